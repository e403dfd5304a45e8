/// The semantic checks on a request head: target form, `Host`, body framing, persistence.
enum RequestValidation {
    /// Sets `target` and `host` on `head` and returns the `Host` field value as received.
    ///
    /// An absolute-form target (RFC 9112 §3.2.2) replaces the `Host` field with its authority.
    static func applyTargetAndHost(
        _ rawTarget: ArraySlice<UInt8>, to head: inout HTTPRequestHead
    ) throws(HeadError) -> String {
        guard !rawTarget.isEmpty,
            rawTarget.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: "#") })
        else { throw .badRequest("invalid request target") }
        let target = String(decoding: rawTarget, as: UTF8.self)
        let hosts = head.headers.values(for: "host")
        guard hosts.count <= 1 else { throw .badRequest("more than one Host field") }
        if head.version == .http1_1, hosts.isEmpty { throw .badRequest("missing Host field") }
        let hostField = hosts.first ?? ""

        if head.method == "CONNECT" {
            throw HeadError(status: 501, reason: "CONNECT is not supported")
        }
        if target.hasPrefix("/") {
            head.target = target
            head.host = try host(fromAuthority: hostField)
        } else if target == "*" {
            guard head.method == "OPTIONS" else { throw .badRequest("invalid request target") }
            head.target = target
            head.host = try host(fromAuthority: hostField)
        } else {
            let (authority, pathAndQuery) = try splitAbsoluteForm(target)
            head.target = pathAndQuery
            head.host = try host(fromAuthority: authority)
            head.headers.replaceOrAdd(name: "Host", value: authority)
            return authority
        }
        return hostField
    }

    /// Splits `http://authority/path?query` into its authority and origin-form target.
    private static func splitAbsoluteForm(
        _ target: String
    ) throws(HeadError) -> (authority: String, pathAndQuery: String) {
        let lower = target.lowercased()
        let scheme = ["http://", "https://"].first { lower.hasPrefix($0) }
        guard let scheme else { throw .badRequest("invalid request target") }
        let rest = target.dropFirst(scheme.count)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = String(rest[..<authorityEnd])
        guard !authority.isEmpty, !authority.contains("@") else {
            throw .badRequest("invalid authority in request target")
        }
        var pathAndQuery = String(rest[authorityEnd...])
        if !pathAndQuery.hasPrefix("/") { pathAndQuery = "/" + pathAndQuery }
        return (authority, pathAndQuery)
    }

    /// Returns the lowercased host of `uri-host [":" port]`, or "" for an empty value.
    static func host(fromAuthority authority: String) throws(HeadError) -> String {
        var host = Substring(authority)
        var port: Substring = ""
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw .badRequest("invalid Host") }
            let literal = host[host.index(after: host.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ $0.isHexDigit || ":.".contains($0) })
            else { throw .badRequest("invalid Host") }
            let after = host[host.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .badRequest("invalid Host") }
                port = after.dropFirst()
            }
            host = host[...close]
        } else {
            if let colon = host.firstIndex(of: ":") {
                port = host[host.index(after: colon)...]
                host = host[..<colon]
            }
            // reg-name and IPv4address characters (RFC 3986 §3.2.2).
            let allowed = "-._~!$&'()*+,;=%"
            guard
                host.allSatisfy({
                    $0.isASCII && ($0.isLetter || $0.isNumber || allowed.contains($0))
                })
            else { throw .badRequest("invalid Host") }
        }
        guard port.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw .badRequest("invalid Host")
        }
        return host.lowercased()
    }

    /// Determines the request body framing (RFC 9112 §6.1-§6.3), rejecting any ambiguity.
    static func framing(of head: HTTPRequestHead) throws(HeadError) -> BodyFraming {
        let lengths = head.headers.values(for: "content-length")
        if head.headers.contains("transfer-encoding") {
            let codings = head.headers.tokens(for: "transfer-encoding")
            guard lengths.isEmpty else {
                throw .badRequest("both Content-Length and Transfer-Encoding are present")
            }
            guard head.version == .http1_1 else {
                throw .badRequest("Transfer-Encoding in an HTTP/1.0 request")
            }
            guard codings.last == "chunked", codings.filter({ $0 == "chunked" }).count == 1 else {
                throw .badRequest("Transfer-Encoding does not end in a single chunked")
            }
            guard codings.count == 1 else {
                throw HeadError(status: 501, reason: "unsupported transfer coding")
            }
            return .chunked
        }
        guard !lengths.isEmpty else { return .none }
        guard lengths.count == 1 else { throw .badRequest("more than one Content-Length") }
        guard let length = HTTPSyntax.parseDecimal(lengths[0]) else {
            throw .badRequest("invalid Content-Length")
        }
        return length == 0 ? .none : .length(length)
    }

    /// Returns whether the client lets the connection persist after this request (RFC 9112 §9.3).
    static func keepAlive(_ head: HTTPRequestHead) -> Bool {
        let options = head.headers.tokens(for: "connection")
        if options.contains("close") { return false }
        return head.version == .http1_1 || options.contains("keep-alive")
    }

    static func wantsUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.version == .http1_1 && head.headers.tokens(for: "connection").contains("upgrade")
            && head.headers.contains("upgrade")
    }
}
