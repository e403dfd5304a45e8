/// The one error type of every Particle operation.
///
/// Each face of an operation maps the code to its own form: an HTTP status and a JSON body for
/// the REST API, a line on stderr and an exit status for the SSH commands. `message` is safe to
/// show the user: it names the value that failed and what to do about it.
public struct ControlError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, CaseIterable {
        case invalidArgument = "invalid_argument"
        case notFound = "not_found"
        case conflict
        case invalidState = "invalid_state"
        case paymentRequired = "payment_required"
        case unauthorized
        case forbidden
        case rateLimited = "rate_limited"
        case unavailable
        case `internal`
    }

    public var code: Code
    public var message: String
    /// The cause of an internal error, for logs; it is not shown to users.
    public var cause: String?
    /// For `.rateLimited`: whole seconds until the request may be repeated.
    public var retryAfterSeconds: Int?

    public init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }

    public static func invalidArgument(_ message: String) -> ControlError {
        ControlError(.invalidArgument, message)
    }

    public static func notFound(_ message: String) -> ControlError {
        ControlError(.notFound, message)
    }

    public static func conflict(_ message: String) -> ControlError {
        ControlError(.conflict, message)
    }

    public static func invalidState(_ message: String) -> ControlError {
        ControlError(.invalidState, message)
    }

    public static func unavailable(_ message: String) -> ControlError {
        ControlError(.unavailable, message)
    }

    public static func paymentRequired(_ message: String) -> ControlError {
        ControlError(.paymentRequired, message)
    }

    /// Creates the error of a request over a limit, which may be repeated after
    /// `retryAfterSeconds`.
    public static func rateLimited(_ message: String, retryAfterSeconds: Int) -> ControlError {
        var error = ControlError(.rateLimited, message)
        error.retryAfterSeconds = retryAfterSeconds
        return error
    }

    /// An unexpected failure; `message` names the operation that failed, `cause` keeps the detail.
    public static func `internal`(_ message: String, cause: any Error) -> ControlError {
        ControlError(.internal, message, cause: String(describing: cause))
    }

    /// An unexpected failure described by text rather than an error value.
    public static func `internal`(_ message: String, detail: String) -> ControlError {
        ControlError(.internal, message, cause: detail)
    }

    static func particleNotFound(_ name: String) -> ControlError {
        let shown = name.count > 64 ? name.prefix(61) + "..." : name
        return .notFound("particle '\(shown)' not found; run `ls` to see your particles")
    }
}
