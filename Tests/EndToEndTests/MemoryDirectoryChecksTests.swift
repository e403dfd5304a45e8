import Foundation
import Support
import Testing

/// particled's checks on `memory_dir`, the tmpfs folder of running guests' RAM files. No guest
/// boots here: each check rejects before QEMU starts.
@Suite(.serialized) struct MemoryDirectoryChecksTests {
    @Test(.enabled(if: !isTmpfs("/tmp"), "the test needs a folder off tmpfs, and /tmp is a tmpfs"))
    func rejectsFolderOffTmpfs() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        let folder = harness.directory.appendingPathComponent("ram").path
        #expect(throws: HarnessError.self) { try harness.start(config: ["memory_dir": folder]) }
        let log = harness.log
        #expect(log.contains("particled: memory_dir \(folder) is on "), "\(log.suffix(2000))")
        #expect(log.contains(", not a tmpfs, so guests' RAM would be written to a disk"), "\(log.suffix(2000))")
        #expect(log.contains("use a folder on a tmpfs such as /dev/shm/particle"))
        #expect(!log.contains("particled is running"))
    }

    @Test func fullTmpfsRejectsCreate() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        // A tmpfs far smaller than a p1 guest's 2 GiB of RAM.
        let mountPoint = harness.directory.appendingPathComponent("ram").path
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try Command.run("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", mountPoint])
        defer { _ = try? Command.run("umount", ["-l", mountPoint]) }
        try harness.start(config: ["memory_dir": mountPoint + "/particle"])

        let create = try harness.ssh("create", "web")
        #expect(create.status == 6, "\(create.errorOutput)")
        #expect(
            create.errorOutput.contains("not enough room in memory_dir \(mountPoint)/particle for the guest's RAM:"),
            "\(create.errorOutput)")
        #expect(create.errorOutput.contains("64 MiB free, 2 GiB needed"), "\(create.errorOutput)")
        #expect(create.errorOutput.contains("stop or sleep other particles"), "\(create.errorOutput)")
        #expect(create.errorOutput.split(separator: "\n").count == 1)

        // Nothing is left of it: no particle, no files, no QEMU.
        let list = try jsonObject(try harness.ssh("ls", "--json").output)
        #expect((list["particles"] as? [Any])?.isEmpty == true)
        let particles = harness.stateDirectory.appendingPathComponent("particles")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: particles.path)) ?? [] == [])
        let qemu = try Command.runAllowingFailure("pgrep", ["-f", "qemu-system.*\(harness.stateDirectory.path)"])
        #expect(qemu.output.isEmpty)
        #expect(harness.log.contains("msg=\"guest not started: memory_dir is too full\""))
    }
}

/// Returns whether `path` is on a tmpfs, as `stat -f` (statfs(2)) reports it.
func isTmpfs(_ path: String) -> Bool {
    let type = try? Command.run("stat", ["-f", "-c", "%T", path]).output
    return type?.trimmingCharacters(in: .whitespacesAndNewlines) == "tmpfs"
}
