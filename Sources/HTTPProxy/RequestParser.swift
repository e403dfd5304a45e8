/// The rule that finds where a message body ends (RFC 9112 §6.3).
enum BodyFraming: Equatable {
    /// The message has no body.
    case none
    case length(Int)
    case chunked
    /// The body ends when the sender closes the connection; responses only.
    case untilClose
}

/// A validated request head plus what the connection needs to frame and route it.
struct ParsedRequest {
    var head: HTTPRequestHead
    var framing: BodyFraming
    var keepAlive: Bool
    /// Whether the client asked to switch protocols (`Connection: upgrade` and `Upgrade`).
    var wantsUpgrade: Bool
    var expectsContinue: Bool
    /// The `Host` field value as received, port included, for `X-Forwarded-Host`.
    var hostField: String
}

/// Parses and validates request heads from a connection's input (RFC 9112 §2-§7).
struct RequestParser {
    struct Limits {
        var maxRequestLineBytes: Int
        var maxHeaderBytes: Int
        var maxHeaderCount: Int
    }

    enum Outcome {
        case needMore
        case request(ParsedRequest)
        case error(HeadError)
    }

    let limits: Limits
    private var scanner = HeadScanner()
    private var skippedEmptyLines = 0

    init(limits: Limits) {
        self.limits = limits
    }

    /// Consumes one complete request head from `buffer` when it has arrived.
    mutating func parse(_ buffer: inout ByteBuffer, remoteAddress: String) -> Outcome {
        // RFC 9112 §2.2 recommends that servers skip empty lines sent before a request line.
        while buffer.readable.starts(with: [HTTPSyntax.cr, HTTPSyntax.lf]) {
            skippedEmptyLines += 1
            guard skippedEmptyLines <= 8 else { return .error(.badRequest("too many empty lines")) }
            buffer.consume(2)
        }

        let readable = buffer.readable
        let lineWindow = readable.prefix(limits.maxRequestLineBytes + 2)
        guard let lineEnd = lineWindow.firstIndex(of: HTTPSyntax.lf) else {
            if readable.count > limits.maxRequestLineBytes {
                return .error(HeadError(status: 414, reason: "request line is too long"))
            }
            return .needMore
        }

        let requestLineLength = lineEnd + 1 - readable.startIndex
        let headLength: Int
        switch scanner.scan(readable) {
        case .complete(let length):
            headLength = length
        case .invalid(let reason):
            return .error(.badRequest(reason))
        case .incomplete:
            if readable.count - requestLineLength > limits.maxHeaderBytes {
                return .error(HeadError(status: 431, reason: "header section is too large"))
            }
            return .needMore
        }
        guard headLength - requestLineLength <= limits.maxHeaderBytes else {
            return .error(HeadError(status: 431, reason: "header section is too large"))
        }

        let head = readable.prefix(headLength)
        buffer.consume(headLength)
        skippedEmptyLines = 0
        do {
            return .request(try Self.parseHead(head, limits: limits, remoteAddress: remoteAddress))
        } catch {
            return .error(error)
        }
    }

    static func parseHead(
        _ head: ArraySlice<UInt8>, limits: Limits, remoteAddress: String
    ) throws(HeadError) -> ParsedRequest {
        let lines = try HeadParsing.lines(of: head)
        guard let requestLine = lines.first else { throw .badRequest("missing request line") }
        let parts = requestLine.split(separator: HTTPSyntax.space, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .badRequest("malformed request line") }
        guard HTTPSyntax.isToken(parts[0]) else { throw .badRequest("invalid method") }
        guard let version = HeadParsing.version(parts[2]) else {
            throw .badRequest("malformed HTTP version")
        }
        guard version == .http1_0 || version == .http1_1 else {
            throw HeadError(status: 505, reason: "\(version) is not supported")
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        let headers = try HeadParsing.headers(lines.dropFirst(), maxCount: limits.maxHeaderCount)
        var head = HTTPRequestHead(
            method: method, target: "", version: version, headers: headers,
            remoteAddress: remoteAddress)
        let hostField = try RequestValidation.applyTargetAndHost(parts[1], to: &head)
        return ParsedRequest(
            head: head, framing: try RequestValidation.framing(of: head),
            keepAlive: RequestValidation.keepAlive(head),
            wantsUpgrade: RequestValidation.wantsUpgrade(head),
            expectsContinue: version == .http1_1
                && head.headers["expect"]?.lowercased() == "100-continue",
            hostField: hostField)
    }
}
