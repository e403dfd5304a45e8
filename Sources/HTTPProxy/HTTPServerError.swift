import Glibc

/// A failure to start or run the HTTP server; `description` is safe to show an operator.
public struct HTTPServerError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case addressInUse
        case invalidAddress
        case invalidState
        case system
    }

    public let code: Code
    public let message: String

    public var description: String { message }

    static func addressInUse(host: String, port: Int) -> HTTPServerError {
        HTTPServerError(
            code: .addressInUse,
            message: "cannot listen on \(host):\(port): the port is already in use; "
                + "stop the other server or choose another port")
    }

    static func invalidAddress(host: String, port: Int, detail: String) -> HTTPServerError {
        HTTPServerError(
            code: .invalidAddress,
            message:
                "cannot listen on \(host):\(port): \(detail); use an IP address or a local host name"
        )
    }

    static func invalidState(_ operation: String, _ detail: String) -> HTTPServerError {
        HTTPServerError(code: .invalidState, message: "failed to \(operation): \(detail)")
    }

    static func system(operation: String, code: Int32) -> HTTPServerError {
        HTTPServerError(
            code: .system,
            message: "failed to \(operation): \(Socket.describe(code)) (errno \(code))")
    }
}

/// A failure of a proxied exchange, passed to `ProxyTarget.unavailable`.
public struct ProxyError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The upstream sent something that is not a valid HTTP/1.x response.
        case invalidResponse
        /// The upstream closed the connection or failed before the response was complete.
        case connectionLost
        /// The upstream sent nothing for longer than the upstream timeout.
        case timedOut
    }

    public let code: Code
    public let message: String

    public var description: String { message }

    static func invalidResponse(_ detail: String) -> ProxyError {
        ProxyError(code: .invalidResponse, message: "invalid response from upstream: \(detail)")
    }

    static func connectionLost(_ detail: String) -> ProxyError {
        ProxyError(code: .connectionLost, message: "upstream connection lost: \(detail)")
    }

    static func timedOut(seconds: Double) -> ProxyError {
        ProxyError(code: .timedOut, message: "upstream sent nothing for \(seconds) s")
    }
}
