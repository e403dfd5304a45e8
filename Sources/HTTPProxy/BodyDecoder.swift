/// Reads a message body out of a connection's input, one piece at a time.
///
/// Chunked bodies are decoded to their content (RFC 9112 §7.1). Chunk extensions are ignored
/// and trailer fields are validated and dropped.
struct BodyDecoder {
    enum Event: Equatable {
        case data(ArraySlice<UInt8>)
        case end
    }

    private enum State {
        case length(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(bytes: Int)
        case untilClose
        case done
    }

    /// Maximum length of a chunk-size line in bytes, extensions included.
    static let maxChunkLineBytes = 4096
    /// Maximum size of a trailer section in bytes.
    static let maxTrailerBytes = 65536

    private var state: State

    init(framing: BodyFraming) {
        switch framing {
        case .none: state = .done
        case .length(let count): state = count == 0 ? .done : .length(remaining: count)
        case .chunked: state = .chunkSize
        case .untilClose: state = .untilClose
        }
    }

    var isDone: Bool {
        if case .done = state { return true }
        return false
    }

    /// Returns the next piece of the body from `buffer`, `.end` once the body is complete, or
    /// nil when more input is needed. Pieces are at most `maxCount` bytes.
    mutating func next(
        _ buffer: inout ByteBuffer, maxCount: Int = 1 << 16
    ) throws(HeadError) -> Event? {
        while true {
            switch state {
            case .done:
                return .end
            case .length(let remaining):
                guard !buffer.isEmpty else { return nil }
                let piece = buffer.read(maxCount: min(remaining, maxCount))
                state =
                    remaining == piece.count ? .done : .length(remaining: remaining - piece.count)
                return .data(piece)
            case .untilClose:
                guard !buffer.isEmpty else { return nil }
                return .data(buffer.read(maxCount: maxCount))
            case .chunkSize:
                guard let size = try readChunkSize(&buffer) else { return nil }
                state = size == 0 ? .trailers(bytes: 0) : .chunkData(remaining: size)
            case .chunkData(let remaining):
                guard !buffer.isEmpty else { return nil }
                let piece = buffer.read(maxCount: min(remaining, maxCount))
                state =
                    remaining == piece.count
                    ? .chunkDataEnd : .chunkData(remaining: remaining - piece.count)
                return .data(piece)
            case .chunkDataEnd:
                guard buffer.readableCount >= 2 else { return nil }
                guard buffer.readable.starts(with: [HTTPSyntax.cr, HTTPSyntax.lf]) else {
                    throw .badRequest("chunk data is not followed by CRLF")
                }
                buffer.consume(2)
                state = .chunkSize
            case .trailers(let bytes):
                guard let lineLength = try readTrailerLine(&buffer, seenBytes: bytes) else {
                    return nil
                }
                state = lineLength == 2 ? .done : .trailers(bytes: bytes + lineLength)
            }
        }
    }

    /// Ends a body that is delimited by the connection closing; returns false when the sender
    /// closed before a length-framed or chunked body was complete.
    mutating func finishAtEndOfFile() -> Bool {
        switch state {
        case .untilClose, .done:
            state = .done
            return true
        default:
            return false
        }
    }

    private func readChunkSize(_ buffer: inout ByteBuffer) throws(HeadError) -> Int? {
        let window = buffer.readable.prefix(Self.maxChunkLineBytes)
        guard let lf = window.firstIndex(of: HTTPSyntax.lf) else {
            if window.count >= Self.maxChunkLineBytes {
                throw .badRequest("chunk-size line is too long")
            }
            return nil
        }
        guard lf > window.startIndex, window[lf - 1] == HTTPSyntax.cr else {
            throw .badRequest("chunk-size line does not end in CRLF")
        }
        let line = window[window.startIndex..<(lf - 1)]
        let digits = line.prefix {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66)
        }
        guard !digits.isEmpty, digits.count <= 15 else { throw .badRequest("invalid chunk size") }
        let extensions = line[digits.endIndex...].drop {
            $0 == HTTPSyntax.space || $0 == HTTPSyntax.tab
        }
        if let first = extensions.first {
            guard first == UInt8(ascii: ";"), extensions.allSatisfy(HTTPSyntax.isFieldValueByte)
            else {
                throw .badRequest("invalid chunk extension")
            }
        }
        buffer.consume(lf + 1 - window.startIndex)
        return Int(String(decoding: digits, as: UTF8.self), radix: 16)
    }

    /// Consumes one trailer line and returns its length with CRLF (2 for the final empty line).
    private func readTrailerLine(
        _ buffer: inout ByteBuffer, seenBytes: Int
    ) throws(HeadError) -> Int? {
        let window = buffer.readable.prefix(Self.maxTrailerBytes - seenBytes + 1)
        guard let lf = window.firstIndex(of: HTTPSyntax.lf) else {
            if window.count > Self.maxTrailerBytes - seenBytes {
                throw .badRequest("trailer section is too large")
            }
            return nil
        }
        let length = lf + 1 - window.startIndex
        let lines = try HeadParsing.lines(of: window.prefix(length))
        if let line = lines.first, !line.isEmpty {
            _ = try HeadParsing.field(line)
        }
        buffer.consume(length)
        return length
    }
}
