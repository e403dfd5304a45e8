/// An error raised by the SSH gateway: a code, a message safe to show a user, and the cause.
public struct GatewayError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure, for callers that branch on it.
    public enum Code: String, Sendable {
        case addressInUse = "address_in_use"
        case listenFailed = "listen_failed"
        case hostKey = "host_key"
        case invalidState = "invalid_state"
        case channelClosed = "channel_closed"
        case inputTooLarge = "input_too_large"
    }

    public let code: Code
    public let message: String
    /// The underlying system or libssh error text, if any.
    public let cause: String?

    public var description: String {
        guard let cause else { return "\(code.rawValue): \(message)" }
        return "\(code.rawValue): \(message) (cause: \(cause))"
    }

    static func addressInUse(host: String, port: Int) -> GatewayError {
        GatewayError(
            code: .addressInUse,
            message: "cannot listen on \(formatAddress(host, port)): the address is already in"
                + " use; stop the other server or choose another SSH port",
            cause: nil)
    }

    static func listenFailed(host: String, port: Int, cause: String) -> GatewayError {
        GatewayError(
            code: .listenFailed,
            message: "cannot listen on \(formatAddress(host, port))", cause: cause)
    }

    static func hostKey(path: String, _ problem: String, cause: String? = nil) -> GatewayError {
        GatewayError(code: .hostKey, message: "host key '\(path)': \(problem)", cause: cause)
    }

    static func invalidState(_ operation: String, _ requirement: String) -> GatewayError {
        GatewayError(
            code: .invalidState, message: "SSH server failed to \(operation): \(requirement)",
            cause: nil)
    }

    static func channelClosed() -> GatewayError {
        GatewayError(
            code: .channelClosed, message: "the SSH client closed the channel", cause: nil)
    }

    static func inputTooLarge(limit: Int) -> GatewayError {
        GatewayError(
            code: .inputTooLarge,
            message: "standard input is larger than \(limit) bytes; send a smaller file",
            cause: nil)
    }
}

/// Formats `host:port`, bracketing IPv6 addresses as in `[::1]:22`.
func formatAddress(_ host: String, _ port: Int) -> String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}
