import Foundation
import Testing

@testable import VMM

/// Tests of the RAM copies of sleep and wake (`SparseCopy`) and of their folder (`MemoryDirectory`).
@Suite struct MemoryFileTests {
    /// Returns a file in a new temporary folder, which the caller removes.
    func temporaryFile(_ name: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("memory-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent(name)
    }

    @Test func nonZeroRunsSkipZeroPages() {
        let page = SparseCopy.pageSize
        var bytes = [UInt8](repeating: 0, count: page * 6 + 100)
        bytes[page * 1 + 7] = 1  // page 1
        bytes[page * 2] = 2  // page 2, joined with page 1
        bytes[page * 4 + page - 1] = 3  // page 4, alone
        // The partial last page counts as data even though it is all zeros.
        let runs = bytes.withUnsafeBytes { SparseCopy.nonZeroRuns($0.baseAddress!, count: $0.count) }
        #expect(runs == [page..<(page * 3), (page * 4)..<(page * 5), (page * 6)..<(page * 6 + 100)])
    }

    @Test func nonZeroRunsOfZerosIsEmpty() {
        let bytes = [UInt8](repeating: 0, count: SparseCopy.pageSize * 3)
        let runs = bytes.withUnsafeBytes { SparseCopy.nonZeroRuns($0.baseAddress!, count: $0.count) }
        #expect(runs.isEmpty)
    }

    /// A copy keeps every byte, the size, and leaves holes where the source held zeros.
    @Test func sparseCopyKeepsDataSkipsZeros() throws {
        let source = try temporaryFile("source.ram")
        defer { try? FileManager.default.removeItem(at: source.deletingLastPathComponent()) }
        let page = SparseCopy.pageSize
        let size = 64 << 20
        var content = [UInt8](repeating: 0, count: page * 512)  // 2 MiB written at 8 MiB
        for index in stride(from: 0, to: content.count, by: page * 2) { content[index] = UInt8(truncatingIfNeeded: index / page + 1) }
        _ = FileManager.default.createFile(atPath: source.path, contents: nil)
        let writer = try FileHandle(forWritingTo: source)
        try writer.truncate(atOffset: UInt64(size))
        try writer.seek(toOffset: 8 << 20)
        try writer.write(contentsOf: content)
        try writer.close()

        let target = source.deletingLastPathComponent().appendingPathComponent("target.ram")
        let input = open(source.path, O_RDONLY)
        defer { close(input) }
        try SparseCopy.copy(from: input, to: target)

        let copied = try Data(contentsOf: target)
        #expect(copied.count == size)
        #expect(copied.subdata(in: (8 << 20)..<((8 << 20) + content.count)) == Data(content))
        #expect(copied.prefix(8 << 20).allSatisfy { $0 == 0 })
        // Half of the written pages were zeros, so only the other half takes blocks.
        let allocated = SparseCopy.allocatedBytes(target.path)
        #expect(allocated >= content.count / 2)
        #expect(allocated < content.count)
    }

    static let mounts = """
        /dev/vda / ext4 rw,relatime 0 0
        tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0
        particle-memory /dev/shm/particle tmpfs rw,nosuid,nodev,noexec,mode=700,huge=within_size 0 0
        /dev/vdb /srv/my\\040data ext4 rw 0 0
        """

    @Test func mountCoveringPicksLongestPoint() {
        let mounts = MemoryDirectory.parseMounts(Self.mounts)
        #expect(MemoryDirectory.mount(covering: "/dev/shm/particle", in: mounts)?.options.contains("huge=within_size") == true)
        #expect(MemoryDirectory.mount(covering: "/dev/shm/particle-other", in: mounts)?.point == "/dev/shm")
        #expect(MemoryDirectory.mount(covering: "/dev/shm/particle/a", in: mounts)?.point == "/dev/shm/particle")
        #expect(MemoryDirectory.mount(covering: "/srv/my data/ram", in: mounts)?.type == "ext4")
        #expect(MemoryDirectory.mount(covering: "/var/lib", in: mounts)?.point == "/")
    }

    /// An empty folder on a disk gets a tmpfs of its own with huge pages; a second start finds
    /// it and mounts nothing more.
    @Test(.enabled(if: getuid() == 0, "mounting needs root"))
    func prepareMountsTmpfsOnEmptyFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("memory-dir-\(UUID().uuidString)").path
        defer {
            umount(folder)
            try? FileManager.default.removeItem(atPath: folder)
        }
        #expect(try MemoryDirectory.prepare(folder, hugePages: true).hasPrefix("mounted a tmpfs with huge pages"))
        let mount = MemoryDirectory.mount(covering: folder, in: MemoryDirectory.readMounts())
        #expect(mount?.point == folder)
        #expect(mount?.type == "tmpfs")
        #expect(mount?.options.contains("huge=within_size") == true)
        #expect(try MemoryDirectory.prepare(folder, hugePages: true) == "memory_dir \(folder) is a tmpfs with huge pages")
        #expect(try MemoryDirectory.prepare(folder, hugePages: false) == "memory_dir \(folder) is on a tmpfs")
        #expect(MemoryDirectory.readMounts().filter { $0.point == folder }.count == 1)
    }

    /// A folder on a disk that already contains files is not mounted over, and is refused.
    @Test(.enabled(if: getuid() == 0, "mounting needs root"))
    func prepareRejectsFolderWithFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("memory-dir-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: folder + "/keep", contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let type = MemoryDirectory.mount(covering: folder, in: MemoryDirectory.readMounts())?.type
        try #require(type != "tmpfs", "the temporary folder is on a tmpfs here")
        for hugePages in [true, false] {
            #expect {
                try MemoryDirectory.prepare(folder, hugePages: hugePages)
            } throws: { error in
                "\(error)".contains("memory_dir \(folder) is on \(type!), not a tmpfs")
            }
        }
        #expect(FileManager.default.fileExists(atPath: folder + "/keep"))
    }
}
