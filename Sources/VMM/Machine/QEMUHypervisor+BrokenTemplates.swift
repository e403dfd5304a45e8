import Control
import Foundation
import Support

/// Loading a template, and replacing one that cannot be loaded: a template whose files are
/// damaged is removed and built again in the background, instead of every create falling back
/// to a cold boot without a log line.
extension QEMUHypervisor {
    /// The files of a complete template besides `template.json`.
    static let templateFiles = ["disk.qcow2", "memory.state", "memory.ram", "qemu.argv"]

    /// A template folder whose files cannot be used.
    struct BrokenTemplate: Error, CustomStringConvertible {
        /// The file that is damaged or missing.
        var file: String
        var reason: String

        var description: String { "\(file): \(reason)" }
    }

    /// Loads the template in `directory`. Returns nil when the folder does not exist, which is
    /// the case until a build renames a finished template into place.
    static func loadTemplate(at directory: URL) throws(BrokenTemplate) -> TemplateOrigin? {
        guard FileManager.default.fileExists(atPath: directory.path) else { return nil }
        let description = directory.appendingPathComponent("template.json")
        guard FileManager.default.fileExists(atPath: description.path) else {
            throw BrokenTemplate(file: description.path, reason: "missing")
        }
        let data: Data
        do {
            data = try Data(contentsOf: description)
        } catch {
            throw BrokenTemplate(file: description.path, reason: "unreadable: \(error.localizedDescription)")
        }
        let origin: TemplateOrigin
        do {
            origin = try JSONDecoder().decode(TemplateOrigin.self, from: data)
        } catch {
            throw BrokenTemplate(file: description.path, reason: "not a template description: \(error)")
        }
        for name in templateFiles {
            let file = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: file.path) else {
                throw BrokenTemplate(file: file.path, reason: "missing")
            }
        }
        return origin
    }

    /// Logs a broken template once and replaces it in the background: it is removed, then
    /// built again for the shape of `spec`. Creates boot cold meanwhile. A template that cannot
    /// be removed is not reported again.
    func replaceBrokenTemplate(_ directory: URL, _ error: BrokenTemplate, for spec: MachineSpec) {
        let first = reportedBrokenTemplates.withLock { $0.insert(directory.path).inserted }
        guard first else { return }
        logger.warning(
            "template is broken, so creates boot cold until it is built again; removing it",
            ["template": directory.path, "file": error.file, "error": error.reason])
        Task { [self] in
            guard Self.removeBrokenTemplate(directory, logger: logger) else { return }
            // A template that breaks again later is reported again.
            reportedBrokenTemplates.withLock { _ = $0.remove(directory.path) }
            await prepareTemplate(
                image: spec.image, vcpus: spec.vcpus, memoryBytes: spec.memoryBytes, diskBytes: spec.diskBytes)
        }
    }

    /// Removes the template in `directory` under its build lock if it is still broken. Returns
    /// false when it is not removed: another process holds the lock (it builds the template
    /// now), the template was replaced by a good one meanwhile, or the removal failed.
    @discardableResult
    static func removeBrokenTemplate(_ directory: URL, logger: Logger) -> Bool {
        let fields = ["template": directory.path]
        let parent = directory.deletingLastPathComponent()
        let lockPath = parent.appendingPathComponent(".\(directory.lastPathComponent).lock").path
        guard let lock = try? FileLock(path: lockPath, wait: false) else {
            logger.notice("not removing a broken template: another process is building it", fields)
            return false
        }
        defer { lock.unlock() }
        do {
            _ = try loadTemplate(at: directory)
            return false
        } catch {}
        // Renamed first, so that no create reads a half-deleted template.
        let removing = parent.appendingPathComponent(".\(directory.lastPathComponent).broken-\(getpid())")
        do {
            try? FileManager.default.removeItem(at: removing)
            try FileManager.default.moveItem(at: directory, to: removing)
            try FileManager.default.removeItem(at: removing)
        } catch {
            logger.warning("removing a broken template failed", fields.merging(["error": "\(error)"]) { a, _ in a })
            return false
        }
        logger.notice("broken template removed; building it again", fields)
        return true
    }
}
