import Foundation
import Support

/// A particle's serial console output, bounded on disk and readable by absolute byte offset.
///
/// Output goes to `serial.log`. When it reaches `capacity` bytes it becomes `serial.log.1`,
/// replacing the older one, and a new file starts. So a particle keeps at most twice `capacity`
/// bytes. `serial.start` stores the absolute offset of `serial.log`'s first byte, so offsets keep
/// counting up across rotations and restarts.
public final class SerialLog: Sendable {
    public let directory: URL
    public let capacity: Int
    private let lock = Locked(())

    public init(directory: URL, capacity: Int = 1 << 20) {
        self.directory = directory
        self.capacity = capacity
    }

    private var currentURL: URL { directory.appendingPathComponent("serial.log") }
    private var previousURL: URL { directory.appendingPathComponent("serial.log.1") }
    private var startURL: URL { directory.appendingPathComponent("serial.start") }

    /// Appends console output, rotating the file first if it would grow past the capacity.
    public func append(_ bytes: [UInt8]) {
        lock.withLock { _ in
            let size = fileSize(currentURL)
            if size > 0 && size + bytes.count > capacity {
                let start = readStart()
                try? FileManager.default.removeItem(at: previousURL)
                try? FileManager.default.moveItem(at: currentURL, to: previousURL)
                try? String(start + size).write(to: startURL, atomically: true, encoding: .utf8)
            }
            guard let handle = openForAppend() else { return }
            defer { try? handle.close() }
            try? handle.write(contentsOf: Data(bytes))
        }
    }

    /// Reads up to `limit` bytes from absolute `offset`; returns them and the offset after them.
    ///
    /// An offset older than what is kept starts at the oldest byte kept; one past the end
    /// returns nothing and the end offset.
    public func read(from offset: Int, limit: Int = 256 << 10) -> (bytes: [UInt8], next: Int) {
        lock.withLock { _ in
            let start = readStart()
            let previous = (try? Data(contentsOf: previousURL)) ?? Data()
            let current = (try? Data(contentsOf: currentURL)) ?? Data()
            let windowStart = start - previous.count
            let kept = previous + current
            let from = min(max(offset, windowStart), start + current.count)
            let slice = kept.dropFirst(from - windowStart).prefix(limit)
            return ([UInt8](slice), from + slice.count)
        }
    }

    /// Returns the last `count` bytes kept, or fewer if less is kept.
    public func tail(_ count: Int) -> [UInt8] {
        lock.withLock { _ in
            let current = (try? Data(contentsOf: currentURL)) ?? Data()
            guard current.count < count else { return [UInt8](current.suffix(count)) }
            let previous = (try? Data(contentsOf: previousURL)) ?? Data()
            return [UInt8]((previous + current).suffix(count))
        }
    }

    private func readStart() -> Int {
        (try? String(contentsOf: startURL, encoding: .utf8)).flatMap { Int($0) } ?? 0
    }

    private func fileSize(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int) ?? 0
    }

    private func openForAppend() -> FileHandle? {
        if !FileManager.default.fileExists(atPath: currentURL.path) {
            _ = FileManager.default.createFile(atPath: currentURL.path, contents: nil)
        }
        let handle = try? FileHandle(forWritingTo: currentURL)
        _ = try? handle?.seekToEnd()
        return handle
    }
}

/// Copies a guest's serial console from QEMU's unix socket into a `SerialLog` until QEMU
/// closes it, on a thread of its own.
enum SerialConsoleReader {
    /// Connects to `socketPath` and starts copying the console output into `log`.
    static func start(socketPath: String, log: SerialLog) throws {
        let fd = try UnixSocket.connect(path: socketPath)
        Thread.detachNewThread {
            defer { close(fd) }
            var chunk = [UInt8](repeating: 0, count: 16 << 10)
            while true {
                let count = recv(fd, &chunk, chunk.count, 0)
                if count <= 0 && errno == EINTR { continue }
                guard count > 0 else { return }
                log.append(Array(chunk[..<count]))
            }
        }
    }
}
