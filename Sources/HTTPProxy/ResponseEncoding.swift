import Glibc

/// Serializing response heads and the pieces the server adds to them.
enum ResponseEncoding {
    /// Encodes a status line and header section, ending with the blank line.
    static func head(status: Int, reason: String? = nil, headers: HTTPHeaders) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(reason ?? reasonPhrase(status))\r\n"
        for (name, value) in headers {
            text += "\(name): \(value)\r\n"
        }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// Returns whether a response with `status` has no body, whatever its header fields state.
    static func statusForbidsBody(_ status: Int) -> Bool {
        status < 200 || status == 204 || status == 304
    }

    /// Returns the standard reason phrase of `status` (RFC 9110 §15), or "Unknown".
    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Unknown"
        }
    }

    /// Encodes `data` as one chunk of a chunked body.
    static func chunk(_ data: ArraySlice<UInt8>) -> [UInt8] {
        var bytes = Array(String(data.count, radix: 16).utf8)
        bytes.reserveCapacity(bytes.count + data.count + 4)
        bytes += [HTTPSyntax.cr, HTTPSyntax.lf]
        bytes += data
        bytes += [HTTPSyntax.cr, HTTPSyntax.lf]
        return bytes
    }

    /// The last chunk and empty trailer section that end a chunked body.
    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
}

/// The `Date` field value (IMF-fixdate), formatted at most once per second.
struct DateCache {
    private var second = 0
    private var text = ""

    mutating func current() -> String {
        var now = time(nil)
        if now != second || text.isEmpty {
            second = now
            var parts = tm()
            gmtime_r(&now, &parts)
            var buffer = [CChar](repeating: 0, count: 64)
            let length = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
            text = String(
                decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return text
    }
}
