import Foundation
import Support

/// The host's Debian cloud kernel, whose image and modules go into guest images.
struct HostKernel: Sendable {
    /// Kernel release, for example `6.1.0-57-cloud-amd64`.
    var version: String
    /// The compressed bzImage, `/boot/vmlinuz-<version>`.
    var bzImage: URL
    /// `/lib/modules/<version>`.
    var modules: URL

    /// Finds the newest `/boot/vmlinuz-*-cloud-amd64` that has its modules installed.
    static func find(
        boot: URL = URL(fileURLWithPath: "/boot"),
        modulesRoot: URL = URL(fileURLWithPath: "/lib/modules")
    ) -> HostKernel? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: boot.path)) ?? []
        let versions =
            names
            .filter { $0.hasPrefix("vmlinuz-") && $0.hasSuffix("-cloud-amd64") }
            .map { String($0.dropFirst("vmlinuz-".count)) }
            .filter {
                FileManager.default.fileExists(
                    atPath: modulesRoot.appendingPathComponent("\($0)/modules.dep").path)
            }
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
        guard let version = versions.last else { return nil }
        return HostKernel(
            version: version, bzImage: boot.appendingPathComponent("vmlinuz-\(version)"),
            modules: modulesRoot.appendingPathComponent(version))
    }

    /// Writes the uncompressed kernel (an ELF `vmlinux`) to `destination`.
    ///
    /// The x86 boot header gives the payload's place: `setup_sects` at 0x1f1, then
    /// `payload_offset` and `payload_length` at 0x248 and 0x24c, counted from the start of the
    /// protected-mode code at `(setup_sects + 1) * 512`. Debian's cloud kernel compresses the
    /// payload with LZ4 (legacy frame format) and appends the uncompressed size as 4 little-endian
    /// bytes, which `lz4` does not understand, so they are cut off and used as a check.
    func extractVmlinux(to destination: URL, scratch: URL) throws {
        let image = try Data(contentsOf: bzImage)
        guard image.count > 0x250, image[0x202..<0x206] == Data("HdrS".utf8) else {
            throw KernelError("\(bzImage.path) is not an x86 bzImage")
        }
        let setupSectors = Int(image[0x1f1]) == 0 ? 4 : Int(image[0x1f1])
        let payloadOffset = Int(image.littleEndianUInt32(at: 0x248))
        let payloadLength = Int(image.littleEndianUInt32(at: 0x24c))
        let start = (setupSectors + 1) * 512 + payloadOffset
        guard payloadLength > 4, start + payloadLength <= image.count else {
            throw KernelError("\(bzImage.path) has a payload outside the file")
        }
        let lz4Magic = Data([0x02, 0x21, 0x4c, 0x18])
        guard image[start..<start + 4] == lz4Magic else {
            throw KernelError("\(bzImage.path) payload is not LZ4 (legacy frame)")
        }
        let expectedSize = Int(image.littleEndianUInt32(at: start + payloadLength - 4))

        let payload = scratch.appendingPathComponent("vmlinux.lz4")
        try image[start..<start + payloadLength - 4].write(to: payload)
        defer { try? FileManager.default.removeItem(at: payload) }
        try Command.run("lz4", ["-d", "-q", "-f", payload.path, destination.path])

        let size = try FileManager.default.attributesOfItem(atPath: destination.path)[.size] as? Int
        guard size == expectedSize else {
            throw KernelError(
                "decompressed kernel has \(size ?? 0) bytes, expected \(expectedSize)")
        }
        let header = try FileHandle(forReadingFrom: destination).read(upToCount: 4)
        guard header == Data([0x7f, 0x45, 0x4c, 0x46]) else {
            throw KernelError("decompressed kernel is not an ELF file")
        }
    }

    /// Returns the module paths (relative to `modules`) that `names` need, dependencies first.
    ///
    /// Reads `modules.dep`, whose lines are `path: dependency-path ...`. A module name matches
    /// the file name with `-` and `_` treated alike, as modprobe does.
    func moduleLoadOrder(_ names: [String]) throws -> [String] {
        let text = try String(
            contentsOf: modules.appendingPathComponent("modules.dep"), encoding: .utf8)
        var dependencies: [String: [String]] = [:]
        var pathByName: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard let path = parts.first.map(String.init) else { continue }
            let rest = parts.count > 1 ? parts[1] : ""
            dependencies[path] = rest.split(separator: " ").map(String.init)
            pathByName[Self.moduleName(path)] = path
        }

        var order: [String] = []
        func visit(_ path: String) {
            guard !order.contains(path) else { return }
            // modules.dep already lists every transitive dependency, last loaded first.
            for dependency in (dependencies[path] ?? []).reversed() { visit(dependency) }
            order.append(path)
        }
        for name in names {
            guard let path = pathByName[name.replacingOccurrences(of: "-", with: "_")] else {
                throw KernelError("module \(name) not found in \(modules.path)/modules.dep")
            }
            visit(path)
        }
        return order
    }

    static func moduleName(_ path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        let base = file.components(separatedBy: ".ko").first ?? file
        return base.replacingOccurrences(of: "-", with: "_")
    }
}

/// A problem with the host kernel, which the builder wraps into `ImageError`.
struct KernelError: Error, CustomStringConvertible, Sendable {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Data {
    fileprivate func littleEndianUInt32(at offset: Int) -> UInt32 {
        let index = startIndex + offset
        return (0..<4).reduce(UInt32(0)) { value, byte in
            value | UInt32(self[index + byte]) << (8 * UInt32(byte))
        }
    }
}
