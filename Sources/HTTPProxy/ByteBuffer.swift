import Glibc

/// Bytes read from a socket and not yet consumed by a parser.
struct ByteBuffer {
    private(set) var bytes: [UInt8] = []
    private(set) var readerIndex = 0

    var readableCount: Int { bytes.count - readerIndex }
    var isEmpty: Bool { readableCount == 0 }
    var readable: ArraySlice<UInt8> { bytes[readerIndex...] }

    mutating func append(_ data: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: data)
    }

    mutating func append(contentsOf data: some Sequence<UInt8>) {
        bytes.append(contentsOf: data)
    }

    /// Drops `count` readable bytes, compacting the storage once most of it is consumed.
    mutating func consume(_ count: Int) {
        precondition(count <= readableCount, "consumed past the readable bytes")
        readerIndex += count
        if readerIndex == bytes.count {
            bytes.removeAll(keepingCapacity: bytes.capacity <= 1 << 20)
            readerIndex = 0
        } else if readerIndex >= 1 << 16, readerIndex * 2 >= bytes.count {
            bytes.removeSubrange(0..<readerIndex)
            readerIndex = 0
        }
    }

    /// Removes and returns up to `maxCount` readable bytes.
    mutating func read(maxCount: Int) -> ArraySlice<UInt8> {
        let count = min(maxCount, readableCount)
        let slice = bytes[readerIndex..<(readerIndex + count)]
        consume(count)
        return slice
    }

    /// Removes and returns every readable byte.
    mutating func readAll() -> [UInt8] {
        let all = Array(readable)
        consume(readableCount)
        return all
    }
}

/// Bytes waiting to be written to a socket, kept as the chunks they were queued in.
struct OutputQueue {
    private var chunks: [[UInt8]] = []
    private var firstChunk = 0
    private var offsetInFirst = 0
    /// The number of bytes not yet written.
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ data: [UInt8]) {
        guard !data.isEmpty else { return }
        chunks.append(data)
        count += data.count
    }

    mutating func append(_ data: ArraySlice<UInt8>) {
        append(Array(data))
    }

    /// Writes queued bytes to `fd` until the queue is empty or the socket would block.
    mutating func write(to fd: Int32) -> Socket.WriteOutcome {
        while firstChunk < chunks.count {
            let written = chunks[firstChunk].withUnsafeBytes { chunk in
                Socket.write(fd, UnsafeRawBufferPointer(rebasing: chunk[offsetInFirst...]))
            }
            switch written {
            case .written(let n):
                count -= n
                offsetInFirst += n
                if offsetInFirst == chunks[firstChunk].count {
                    firstChunk += 1
                    offsetInFirst = 0
                }
            case .wouldBlock, .failed:
                compact()
                return written
            }
        }
        chunks.removeAll(keepingCapacity: true)
        firstChunk = 0
        return .written(0)
    }

    private mutating func compact() {
        if firstChunk > 32 {
            chunks.removeFirst(firstChunk)
            firstChunk = 0
        }
    }
}
