import Control
import Foundation
import Support
import Testing

@testable import VMM

/// The checks on `memory_dir`, against real file systems, and the record of how QEMU ends.
@Suite(.serialized) struct MemoryDirectoryTests {
    @Test func fileSystemTypeFromMounts() {
        let mounts = """
            /dev/vda / ext4 rw,relatime 0 0
            tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0
            tmpfs /srv/ram\\040disk tmpfs rw 0 0
            /dev/vdb /dev/shm/disk ext4 rw 0 0
            """
        #expect(MemoryDirectory.fileSystemType(of: "/dev/shm/particle", mounts: mounts) == "tmpfs")
        #expect(MemoryDirectory.fileSystemType(of: "/dev/shm", mounts: mounts) == "tmpfs")
        #expect(MemoryDirectory.fileSystemType(of: "/dev/shm/disk/particle", mounts: mounts) == "ext4")
        #expect(MemoryDirectory.fileSystemType(of: "/dev/shmx", mounts: mounts) == "ext4")
        #expect(MemoryDirectory.fileSystemType(of: "/srv/ram disk/particle", mounts: mounts) == "tmpfs")
        #expect(MemoryDirectory.fileSystemType(of: "/var/lib", mounts: "") == nil)
    }

    @Test func prepareRejectsDiskFolder() throws {
        // A folder on a file system that is not a tmpfs, checked independently with `stat -f`.
        let candidates = [FileManager.default.currentDirectoryPath, "/var/tmp", "/"]
        let onDisk = try #require(candidates.first { !Self.isTmpfs($0) }, "no folder off tmpfs in \(candidates)")
        let folder = URL(fileURLWithPath: onDisk).appendingPathComponent(".memory-dir-test-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            _ = try MemoryDirectory.prepare(folder, hugePages: false)
            Issue.record("memory_dir \(folder) on a disk was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("memory_dir \(folder) is on "), "\(error.message)")
            #expect(error.message.contains("not a tmpfs"), "\(error.message)")
            #expect(error.message.contains("/dev/shm/particle"), "\(error.message)")
            #expect(error.message.contains("or set memory_huge_pages to let particled mount one"), "\(error.message)")
        }

        let onTmpfs = "/dev/shm/memory-dir-test-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: onTmpfs) }
        _ = try MemoryDirectory.prepare(onTmpfs, hugePages: false)
        let mode = try FileManager.default.attributesOfItem(atPath: onTmpfs)[.posixPermissions] as? Int
        #expect(mode == 0o700)
    }

    @Test func requireRoomOnSmallTmpfs() throws {
        let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent("memory-dir-\(UUID())").path
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try Command.run("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mountPoint])
        defer {
            _ = try? Command.run("umount", [mountPoint])
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        let folder = mountPoint + "/particle"
        try MemoryDirectory.requireRoom(folder, memoryBytes: 4 << 20)
        #expect(FileManager.default.fileExists(atPath: folder), "the folder is made if missing")

        // A RAM file that fills most of the tmpfs leaves too little for a 4 MiB guest.
        try Data(count: 6 << 20).write(to: URL(fileURLWithPath: folder + "/other.ram"))
        do {
            try MemoryDirectory.requireRoom(folder, memoryBytes: 4 << 20)
            Issue.record("a 4 MiB guest was allowed on a tmpfs with 2 MiB free")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("memory_dir \(folder)"), "\(error.message)")
            #expect(error.message.contains("2 MiB free, 4 MiB needed"), "\(error.message)")
            #expect(error.message.contains("remount,size="), "\(error.message)")
            #expect(error.message.contains("stop or sleep other particles"), "\(error.message)")
        }
        try MemoryDirectory.requireRoom(folder, memoryBytes: 1 << 20)
    }

    @Test func formatBytes() {
        #expect(MemoryDirectory.formatBytes(512) == "512 bytes")
        #expect(MemoryDirectory.formatBytes(2 << 30) == "2 GiB")
        #expect(MemoryDirectory.formatBytes(1536 << 20) == "1.5 GiB")
        #expect(MemoryDirectory.formatBytes(300 << 20) == "300 MiB")
    }

    @Test func exitWatcherRecordsSignalAndStatus() throws {
        let watcher = ProcessExitWatcher()
        #expect(watcher.unavailableReason == nil, "\(watcher.unavailableReason ?? "")")

        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        watcher.watch(sleeper.processIdentifier, key: "bus")
        kill(sleeper.processIdentifier, SIGBUS)
        sleeper.waitUntilExit()
        #expect(try waitForExit(watcher, key: "bus")?.description == "killed by signal 7 (SIGBUS)")
        #expect(watcher.takeExit(key: "bus") == nil, "an exit is reported once")

        let failing = Process()
        failing.executableURL = URL(fileURLWithPath: "/bin/sh")
        failing.arguments = ["-c", "sleep 0.3; exit 3"]
        try failing.run()
        watcher.watch(failing.processIdentifier, key: "status")
        failing.waitUntilExit()
        #expect(try waitForExit(watcher, key: "status")?.description == "exit status 3")
    }

    @Test func exitDescriptions() {
        #expect(ProcessExitWatcher.Exit.describe(0) == "exit status 0")
        #expect(ProcessExitWatcher.Exit.describe(1 << 8) == "exit status 1")
        #expect(ProcessExitWatcher.Exit.describe(9) == "killed by signal 9 (SIGKILL)")
        #expect(ProcessExitWatcher.Exit.describe(11 | 0x80) == "killed by signal 11 (SIGSEGV, core dumped)")
    }

    @Test func lastLinesDropEscapes() {
        let console = "boot\r\n\u{1b}[0;32m  OK  \u{1b}[0m] Started sshd.\r\n\r\nlogin: \r\n"
        #expect(QEMUHypervisor.lastLines(console, count: 2) == "OK  ] Started sshd. | login:")
        #expect(QEMUHypervisor.lastLines("", count: 3) == "")
    }

    /// Polls the watcher for the exit of the process watched under `key` for up to 5 s, since
    /// the kernel's event arrives shortly after the process ends.
    private func waitForExit(_ watcher: ProcessExitWatcher, key: String) throws -> ProcessExitWatcher.Exit? {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if let exit = watcher.takeExit(key: key) { return exit }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return nil
    }

    /// Returns whether `path` is on a tmpfs, as `stat -f` (statfs(2)) reports it.
    static func isTmpfs(_ path: String) -> Bool {
        let type = try? Command.run("stat", ["-f", "-c", "%T", path]).output
        return type?.trimmingCharacters(in: .whitespacesAndNewlines) == "tmpfs"
    }
}
