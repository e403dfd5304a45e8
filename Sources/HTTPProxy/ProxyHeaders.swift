import Foundation

/// Rewriting header sections between the client and the upstream.
enum ProxyHeaders {
    /// Fields that describe one connection rather than the message (RFC 9110 §7.6.1).
    private static let hopByHop: Set<String> = [
        "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-connection",
    ]

    /// Removes hop-by-hop fields, those the `Connection` field names, and `Proxy-*` fields.
    ///
    /// `Host` stays even when `Connection` names it, so that a client cannot strip it.
    static func removeHopByHop(_ headers: inout HTTPHeaders, keepUpgrade: Bool) {
        let named = Set(headers.tokens(for: "connection")).subtracting(["host"])
        headers.removeAll { name in
            if keepUpgrade, name == "upgrade" { return false }
            return hopByHop.contains(name) || named.contains(name) || name.hasPrefix("proxy-")
        }
    }

    /// Encodes the request head sent upstream: origin-form target, HTTP/1.1, forwarding fields and
    /// the framing of the body that follows.
    static func upstreamRequestHead(
        _ request: ParsedRequest, configuration: HTTPServer.Configuration
    ) -> [UInt8] {
        let head = request.head
        var headers = head.headers
        let hadContentLength = headers.contains("content-length")
        removeHopByHop(&headers, keepUpgrade: request.wantsUpgrade)
        headers.remove("content-length")

        // This server is the edge, so forwarding fields sent by the client are replaced.
        for name in ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"] {
            headers.remove(name)
        }
        let proto = configuration.forwardedProto
        headers.add(name: "X-Forwarded-For", value: head.remoteAddress)
        headers.add(name: "X-Forwarded-Proto", value: proto)
        var forwarded = "for=\(forwardedNode(head.remoteAddress))"
        if !request.hostField.isEmpty {
            headers.add(name: "X-Forwarded-Host", value: request.hostField)
            forwarded += ";host=\(forwardedValue(request.hostField))"
        }
        headers.add(name: "Forwarded", value: forwarded + ";proto=\(forwardedValue(proto))")
        headers.add(
            name: "Via",
            value: "\(head.version.major).\(head.version.minor) \(configuration.viaName)")

        switch request.framing {
        case .length(let length): headers.add(name: "Content-Length", value: "\(length)")
        case .chunked: headers.add(name: "Transfer-Encoding", value: "chunked")
        case .none, .untilClose:
            if hadContentLength { headers.add(name: "Content-Length", value: "0") }
        }
        headers.add(name: "Connection", value: request.wantsUpgrade ? "upgrade" : "close")

        var text = "\(head.method) \(head.target) HTTP/1.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// The framing the proxy uses for a response body sent to its client.
    enum ClientFraming {
        case none
        /// The upstream's `Content-Length` is kept and the bytes pass through.
        case identity
        case chunked
        /// The body ends when the server closes the connection (HTTP/1.0 clients).
        case untilClose
    }

    /// Encodes the response head sent to the client for a final (2xx-5xx) upstream response.
    static func clientResponseHead(
        _ response: ParsedResponse, framing: ClientFraming, keepAlive: Bool,
        clientVersion: HTTPVersion
    ) -> [UInt8] {
        var headers = response.headers
        removeHopByHop(&headers, keepUpgrade: false)
        switch framing {
        case .identity:
            break
        case .none:
            if ResponseEncoding.statusForbidsBody(response.status), response.status != 304 {
                headers.remove("content-length")
            }
        case .chunked:
            headers.remove("content-length")
            headers.add(name: "Transfer-Encoding", value: "chunked")
        case .untilClose:
            headers.remove("content-length")
        }
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if clientVersion == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        return ResponseEncoding.head(
            status: response.status, reason: response.reason, headers: headers)
    }

    /// Encodes the head of an interim (1xx) response, or of `101 Switching Protocols` when `upgrade`.
    static func interimResponseHead(_ response: ParsedResponse, upgrade: Bool) -> [UInt8] {
        var headers = response.headers
        removeHopByHop(&headers, keepUpgrade: upgrade)
        if upgrade { headers.add(name: "Connection", value: "upgrade") }
        return ResponseEncoding.head(
            status: response.status, reason: response.reason, headers: headers)
    }

    /// Formats a `Forwarded` node (RFC 7239 §6), bracketing and quoting an IPv6 address.
    private static func forwardedNode(_ address: String) -> String {
        address.contains(":") ? "\"[\(address)]\"" : address
    }

    /// `value` as a token, or as a quoted-string when it contains other characters.
    private static func forwardedValue(_ value: String) -> String {
        if HTTPSyntax.isToken(value.utf8) { return value }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(escaped)\""
    }
}
