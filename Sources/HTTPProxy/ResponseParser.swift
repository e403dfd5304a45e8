/// A validated upstream response head.
struct ParsedResponse {
    var status: Int
    var reason: String
    var headers: HTTPHeaders
    var framing: BodyFraming
}

/// Parses and validates response heads read from an upstream (RFC 9112 §4, §6.3).
///
/// Anything this rejects makes the proxy respond 502, so the `HeadError` status is not used.
struct ResponseParser {
    enum Outcome {
        case needMore
        case response(ParsedResponse)
        case error(HeadError)
    }

    let maxHeadBytes: Int
    let maxHeaderCount: Int
    private var scanner = HeadScanner()

    init(maxHeadBytes: Int, maxHeaderCount: Int) {
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderCount = maxHeaderCount
    }

    /// Consumes one response head from `buffer`; `requestMethod` decides whether a body follows.
    mutating func parse(_ buffer: inout ByteBuffer, requestMethod: String) -> Outcome {
        let length: Int
        switch scanner.scan(buffer.readable) {
        case .complete(let headLength):
            length = headLength
        case .invalid(let reason):
            return .error(.badRequest(reason))
        case .incomplete:
            if buffer.readableCount > maxHeadBytes {
                return .error(.badRequest("response head is too large"))
            }
            return .needMore
        }
        guard length <= maxHeadBytes else {
            return .error(.badRequest("response head is too large"))
        }
        let head = buffer.readable.prefix(length)
        buffer.consume(length)
        do {
            return .response(try parseHead(head, requestMethod: requestMethod))
        } catch {
            return .error(error)
        }
    }

    private func parseHead(
        _ head: ArraySlice<UInt8>, requestMethod: String
    ) throws(HeadError) -> ParsedResponse {
        let lines = try HeadParsing.lines(of: head)
        guard let statusLine = lines.first, statusLine.count >= 12 else {
            throw .badRequest("malformed status line")
        }
        let start = statusLine.startIndex
        guard let version = HeadParsing.version(statusLine[start..<(start + 8)]),
            version == .http1_0 || version == .http1_1,
            statusLine[start + 8] == HTTPSyntax.space,
            let status = HTTPSyntax.parseDecimal(
                String(decoding: statusLine[(start + 9)..<(start + 12)], as: UTF8.self)),
            (100...599).contains(status)
        else { throw .badRequest("malformed status line") }
        let reasonBytes = statusLine[(start + 12)...]
        if let first = reasonBytes.first, first != HTTPSyntax.space {
            throw .badRequest("malformed status line")
        }
        guard reasonBytes.allSatisfy(HTTPSyntax.isFieldValueByte) else {
            throw .badRequest("invalid character in reason phrase")
        }
        let headers = try HeadParsing.headers(lines.dropFirst(), maxCount: maxHeaderCount)
        return ParsedResponse(
            status: status, reason: String(decoding: reasonBytes.dropFirst(), as: UTF8.self),
            headers: headers,
            framing: try Self.framing(
                status: status, headers: headers, requestMethod: requestMethod))
    }

    /// Determines the response body framing (RFC 9112 §6.3), treating any ambiguity as invalid.
    static func framing(
        status: Int, headers: HTTPHeaders, requestMethod: String
    ) throws(HeadError) -> BodyFraming {
        if requestMethod == "HEAD" || status < 200 || status == 204 || status == 304 {
            return .none
        }
        let lengths = headers.values(for: "content-length")
        if headers.contains("transfer-encoding") {
            guard lengths.isEmpty else {
                throw .badRequest("both Content-Length and Transfer-Encoding are present")
            }
            guard headers.tokens(for: "transfer-encoding") == ["chunked"] else {
                throw .badRequest("unsupported transfer coding")
            }
            return .chunked
        }
        guard !lengths.isEmpty else { return .untilClose }
        guard lengths.count == 1, let length = HTTPSyntax.parseDecimal(lengths[0]) else {
            throw .badRequest("invalid Content-Length")
        }
        return .length(length)
    }
}
