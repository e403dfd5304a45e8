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

    /// Writes the data regions of the file open at `source` into `target` at the same offsets.
    static func fill(_ target: Int32, from source: Int32, name: String) throws {
        var status = stat()
        guard fstat(source, &status) == 0 else { throw failure("reading the size of the source") }
        let size = off_t(status.st_size)
        let destination = URL(fileURLWithPath: name)

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
                var written = 0
                while written < count {
                    let result = pwrite(target, buffer + written, count - written, position + off_t(written))
                    guard result > 0 else { throw failure("writing \(destination.lastPathComponent)") }
                    written += result
                }
                position += off_t(count)
            }
            offset = dataEnd
        }
    }

    private static func failure(_ action: String) -> ControlError {
        ControlError.internal("\(action) failed", detail: String(cString: strerror(errno)))
    }
}
