/// An HTTP protocol version; the server accepts 1.0 and 1.1.
public struct HTTPVersion: Sendable, Hashable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    // swift-format-ignore: AlwaysUseLowerCamelCase
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// The version as it appears on the wire, such as `HTTP/1.1`.
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// The request line and header section of a request, as parsed and validated by the server.
public struct HTTPRequestHead: Sendable {
    /// The request method, case-sensitive as sent (`GET`, `POST`, ...).
    public var method: String
    /// The path and query in origin form (`/a/b?c=d`), or `*` for `OPTIONS *`.
    ///
    /// A request in absolute form (`GET http://host/path HTTP/1.1`) is reduced to its path and
    /// query here, and its authority becomes `host`.
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// The host name the request is for, lowercased and without a port.
    ///
    /// It comes from the `Host` field, or from the target when the request uses absolute form.
    /// An IPv6 literal keeps its brackets (`[::1]`). Empty when the client sent an empty `Host`.
    public var host: String
    /// The client's IP address, without a port.
    public var remoteAddress: String

    public init(
        method: String, target: String, version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = HTTPHeaders(), host: String = "", remoteAddress: String = ""
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.host = host
        self.remoteAddress = remoteAddress
    }

    /// The target without its query, which is the part that is safe to log.
    public var path: String {
        String(target.prefix { $0 != "?" })
    }
}

/// A complete response produced by a responder.
///
/// The server adds `Content-Length`, `Date` and `Connection` itself and ignores any
/// `Content-Length`, `Transfer-Encoding` or `Connection` set here, except that
/// `Connection: close` makes the server close the connection after this response.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response whose body is `text` encoded as UTF-8, with the given content type.
    public init(
        status: Int, contentType: String = "text/plain; charset=utf-8", text: String
    ) {
        self.init(status: status, headers: ["Content-Type": contentType], body: Array(text.utf8))
    }
}
