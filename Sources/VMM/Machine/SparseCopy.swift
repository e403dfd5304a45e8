import Control
import Foundation

/// Copies a file's data regions only, so that a guest's RAM, mostly never touched, costs what
/// it holds rather than its size, both on tmpfs and on disk.
enum SparseCopy {
    /// `lseek` whences from <unistd.h> that Glibc's module does not export (they need _GNU_SOURCE).
    private static let seekData: Int32 = 3
    private static let seekHole: Int32 = 4

    /// Copies the file open at `source` into a new file at `destination` (mode 0600) with the
    /// same size and holes where the source has them.
    static func copy(from source: Int32, to destination: URL) throws {
        let target = try create(destination, sizedLike: source)
        defer { close(target) }
        try fill(target, from: source, name: destination.lastPathComponent)
    }

    /// Creates `destination` (mode 0600) with the size of the file open at `source`, all hole,
    /// and returns it open for writing: a reader may map it before `fill` writes the data.
    static func create(_ destination: URL, sizedLike source: Int32) throws -> Int32 {
        var status = stat()
        guard fstat(source, &status) == 0 else { throw failure("reading the size of the source") }
        let target = open(destination.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard target >= 0 else { throw failure("creating \(destination.lastPathComponent)") }
        guard ftruncate(target, off_t(status.st_size)) == 0 else {
            close(target)
            throw failure("sizing \(destination.lastPathComponent)")
        }
        return target
    }

    /// Writes the data regions of the file open at `source` into `target` at the same offsets,
    /// leaving out pages that hold only zeros: `target` is all hole, so they read as zeros
    /// anyway. On a tmpfs with huge pages the source's data regions come in 2 MiB pages that a
    /// guest has only partly written, so this keeps the copy at what the guest really wrote.
    static func fill(_ target: Int32, from source: Int32, name: String) throws {
        var status = stat()
        guard fstat(source, &status) == 0 else { throw failure("reading the size of the source") }
        let size = off_t(status.st_size)

        let chunk = 4 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var offset: off_t = 0
        while offset < size {
            let dataStart = lseek(source, offset, Self.seekData)
            if dataStart < 0 {
                guard errno == ENXIO else { throw failure("finding data in the source") }
                break  // Only a hole is left.
            }
            let dataEnd = Swift.min(lseek(source, dataStart, Self.seekHole), size)
            guard dataEnd >= dataStart else { throw failure("finding a hole in the source") }
            var position = dataStart
            while position < dataEnd {
                let count = pread(source, buffer, Swift.min(chunk, Int(dataEnd - position)), position)
                guard count > 0 else { throw failure("reading the source") }
                for run in nonZeroRuns(buffer, count: count) {
                    try writeAll(target, buffer + run.lowerBound, count: run.count, at: position + off_t(run.lowerBound), name: name)
                }
                position += off_t(count)
            }
            offset = dataEnd
        }
    }

    static let pageSize = 4096
    nonisolated(unsafe) private static let zeroPage = UnsafeMutableRawPointer.allocate(byteCount: pageSize, alignment: pageSize)
        .initializeMemory(as: UInt8.self, repeating: 0, count: pageSize)

    /// Returns the byte ranges of `buffer` made of whole pages that are not all zeros, with
    /// consecutive pages merged. A last partial page counts as not zero.
    static func nonZeroRuns(_ buffer: UnsafeRawPointer, count: Int) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start: Int?
        var page = 0
        while page < count {
            let length = Swift.min(pageSize, count - page)
            let zero = length == pageSize && memcmp(buffer + page, zeroPage, pageSize) == 0
            if zero, let first = start {
                runs.append(first..<page)
                start = nil
            } else if !zero && start == nil {
                start = page
            }
            page += length
        }
        if let first = start { runs.append(first..<count) }
        return runs
    }

    private static func writeAll(_ target: Int32, _ bytes: UnsafeRawPointer, count: Int, at offset: off_t, name: String) throws {
        var written = 0
        while written < count {
            let result = pwrite(target, bytes + written, count - written, offset + off_t(written))
            guard result > 0 else { throw failure("writing \(name)") }
            written += result
        }
    }

    /// Returns the bytes a file really occupies (its allocated blocks), for logs.
    static func allocatedBytes(_ path: String) -> Int {
        var status = stat()
        return stat(path, &status) == 0 ? Int(status.st_blocks) * 512 : 0
    }

    private static func failure(_ action: String) -> ControlError {
        ControlError.internal("\(action) failed", detail: String(cString: strerror(errno)))
    }
}
