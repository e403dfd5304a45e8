/// A failed command run in a guest over SSH: a code, a message safe to show, and the cause.
public struct GuestSSHError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure, for callers that branch on it.
    public enum Code: String, Sendable {
        case invalidKey = "invalid_key"
        case connectFailed = "connect_failed"
        case timedOut = "timed_out"
        case hostKeyMismatch = "host_key_mismatch"
        case authenticationFailed = "authentication_failed"
        case channelFailed = "channel_failed"
        case connectionLost = "connection_lost"
        case missingExitStatus = "missing_exit_status"
    }

    public let code: Code
    public let message: String
    /// libssh's error text, if any.
    public let cause: String?

    public var description: String {
        guard let cause else { return "\(code.rawValue): \(message)" }
        return "\(code.rawValue): \(message) (cause: \(cause))"
    }

    static func invalidKey(_ which: String, cause: String? = nil) -> GuestSSHError {
        GuestSSHError(code: .invalidKey, message: "invalid \(which)", cause: cause)
    }

    static func connectFailed(cause: String) -> GuestSSHError {
        GuestSSHError(
            code: .connectFailed, message: "SSH handshake with the guest failed", cause: cause)
    }

    static func timedOut(_ step: String, after timeout: Duration) -> GuestSSHError {
        GuestSSHError(
            code: .timedOut,
            message:
                "guest SSH \(step) timed out after \(timeout); check that sshd runs in the guest",
            cause: nil)
    }

    static func hostKeyMismatch(expected: String, actual: String) -> GuestSSHError {
        GuestSSHError(
            code: .hostKeyMismatch,
            message: "guest host key \(actual) does not match the recorded key \(expected)",
            cause: nil)
    }

    static func authenticationFailed(user: String, cause: String?) -> GuestSSHError {
        GuestSSHError(
            code: .authenticationFailed,
            message: "guest rejected the platform key for user '\(user)'", cause: cause)
    }

    static func channelFailed(_ step: String, cause: String) -> GuestSSHError {
        GuestSSHError(code: .channelFailed, message: "guest SSH \(step) failed", cause: cause)
    }

    static func connectionLost(cause: String) -> GuestSSHError {
        GuestSSHError(
            code: .connectionLost, message: "connection to the guest dropped during the command",
            cause: cause)
    }

    static func missingExitStatus() -> GuestSSHError {
        GuestSSHError(
            code: .missingExitStatus,
            message: "guest closed the channel without an exit status or signal", cause: nil)
    }
}
