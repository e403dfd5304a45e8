import Foundation
import Support
import Testing

@testable import VMM

/// Loading a fast-create template from its folder, and removing a broken one.
@Suite struct TemplateLoaderTests {
    let templates = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID())")

    var directory: URL { templates.appendingPathComponent("1x2048M") }

    /// Writes a complete template folder, with `description` as its `template.json`.
    func writeTemplate(description: String) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in QEMUHypervisor.templateFiles {
            try Data("x".utf8).write(to: directory.appendingPathComponent(name))
        }
        try Data(description.utf8).write(to: directory.appendingPathComponent("template.json"))
    }

    static let validDescription = """
        {"directory": "/var/lib/particle/particles/0123456789ab", "ramFile": "/dev/shm/particle/0123456789ab.ram",
         "tap": "pt0123456789ab", "mac": "52:54:0a:d5:ff:fe", "diskBytes": 10737418240}
        """

    @Test func missingFolderIsNoTemplate() throws {
        #expect(try QEMUHypervisor.loadTemplate(at: directory) == nil)
    }

    @Test func completeTemplateLoads() throws {
        defer { try? FileManager.default.removeItem(at: templates) }
        try writeTemplate(description: Self.validDescription)
        let origin = try #require(try QEMUHypervisor.loadTemplate(at: directory))
        #expect(origin.tap == "pt0123456789ab")
        #expect(origin.diskBytes == 10 << 30)
    }

    @Test(arguments: ["garbage", "{}", "", #"{"directory": 3}"#])
    func garbageDescriptionIsBroken(description: String) throws {
        defer { try? FileManager.default.removeItem(at: templates) }
        try writeTemplate(description: description)
        do {
            _ = try QEMUHypervisor.loadTemplate(at: directory)
            Issue.record("template.json '\(description)' was accepted")
        } catch {
            #expect(error.file == directory.appendingPathComponent("template.json").path)
            #expect(error.reason.hasPrefix("not a template description"), "\(error.reason)")
        }
    }

    @Test func missingFileIsBroken() throws {
        defer { try? FileManager.default.removeItem(at: templates) }
        try writeTemplate(description: Self.validDescription)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("memory.ram"))
        #expect(throws: QEMUHypervisor.BrokenTemplate.self) { try QEMUHypervisor.loadTemplate(at: directory) }
        do {
            _ = try QEMUHypervisor.loadTemplate(at: directory)
        } catch {
            #expect(error.description == "\(directory.path)/memory.ram: missing")
        }

        try FileManager.default.removeItem(at: directory.appendingPathComponent("template.json"))
        do {
            _ = try QEMUHypervisor.loadTemplate(at: directory)
            Issue.record("a template folder without template.json was accepted")
        } catch {
            #expect(error.description == "\(directory.path)/template.json: missing")
        }
    }

    @Test func brokenTemplateIsRemoved() throws {
        defer { try? FileManager.default.removeItem(at: templates) }
        let logger = Logger(label: "test")
        try writeTemplate(description: "garbage")

        // While another process holds the build lock, the template is left to it.
        let lock = try FileLock(path: templates.appendingPathComponent(".1x2048M.lock").path)
        #expect(!QEMUHypervisor.removeBrokenTemplate(directory, logger: logger))
        #expect(FileManager.default.fileExists(atPath: directory.path))
        lock.unlock()

        #expect(QEMUHypervisor.removeBrokenTemplate(directory, logger: logger))
        #expect(!FileManager.default.fileExists(atPath: directory.path))
        let left = try FileManager.default.contentsOfDirectory(atPath: templates.path)
        #expect(left == [".1x2048M.lock"], "\(left)")

        // A good template is never removed.
        try writeTemplate(description: Self.validDescription)
        #expect(!QEMUHypervisor.removeBrokenTemplate(directory, logger: logger))
        #expect(try QEMUHypervisor.loadTemplate(at: directory) != nil)
    }
}
