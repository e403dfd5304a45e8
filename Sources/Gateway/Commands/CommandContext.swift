import Control
import Foundation
import Support

/// The output and input streams of a running command.
protocol CommandIO: AnyObject {
    func write(_ text: String)
    func writeError(_ text: String)
    func write(bytes: [UInt8])
    /// Reads one line from standard input, or nil at end of input.
    func readLine() -> String?
    /// Whether the client has hung up.
    var isClosed: Bool { get }
    /// Waits up to `timeout` and returns true once the client has hung up, or pressed Ctrl-C
    /// on a terminal. Other input that arrives meanwhile is discarded.
    func waitForInterrupt(timeout: Duration) -> Bool
}

/// The exit statuses of gateway commands, one per kind of error.
public enum CommandExitStatus: Int32, CaseIterable, Sendable {
    case success = 0
    case internalError = 1
    case usage = 2
    case notFound = 3
    case conflict = 4
    case paymentRequired = 5
    case unavailable = 6
    case rateLimited = 7
    case denied = 8

    init(_ code: ControlError.Code) {
        switch code {
        case .invalidArgument: self = .usage
        case .notFound: self = .notFound
        case .conflict, .invalidState: self = .conflict
        case .paymentRequired: self = .paymentRequired
        case .unavailable: self = .unavailable
        case .rateLimited: self = .rateLimited
        case .unauthorized, .forbidden: self = .denied
        case .internal: self = .internalError
        }
    }

    var meaning: String {
        switch self {
        case .success: "success"
        case .internalError: "internal error (see particled's log)"
        case .usage: "invalid command, argument or option"
        case .notFound: "particle, key or other object not found"
        case .conflict: "conflict: name taken, or the object is in the wrong state"
        case .paymentRequired: "payment required: the balance is used up"
        case .unavailable: "temporarily unavailable: an image, guest or port is not ready"
        case .rateLimited: "too many requests; wait and retry"
        case .denied: "not allowed for this key"
        }
    }
}

/// The public host, domain and ports, for the URLs and hints that commands print.
public struct GatewayContext: Sendable {
    public var domain: String
    public var httpPort: Int
    public var sshPort: Int
    /// The host name users connect to, as shown in hints (`ssh -p 2222 localhost ...`).
    public var publicHost: String

    public init(domain: String, httpPort: Int, sshPort: Int, publicHost: String = "localhost") {
        self.domain = domain
        self.httpPort = httpPort
        self.sshPort = sshPort
        self.publicHost = publicHost
    }

    /// Returns the URL of the particle's default HTTP port through the proxy.
    ///
    /// A name that ends in a hyphen and digits (`web-8000`) would read as another particle's
    /// port, so its URL names the port explicitly (`web-8000-80-<acct>`).
    func url(_ particle: Particle) -> String {
        defaultURL(name: particle.name, accountID: particle.accountID, httpPort: particle.httpPort)
    }

    func defaultURL(name: String, accountID: String, httpPort: Int) -> String {
        let last = name.split(separator: "-").last ?? ""
        let ambiguous = name.contains("-") && last.allSatisfy(\.isNumber)
        return url(name: name, accountID: accountID, port: ambiguous ? httpPort : nil)
    }

    /// Returns the URL of a particle's port through the proxy (its default port when `port` is nil).
    func url(name: String, accountID: String, port: Int? = nil) -> String {
        let label = port.map { "\(name)-\($0)-\(accountID)" } ?? "\(name)-\(accountID)"
        let portSuffix = httpPort == 80 ? "" : ":\(httpPort)"
        return "http://\(label).\(domain)\(portSuffix)/"
    }
}

/// The context of a running command: the caller, the domain, its input and output.
struct CommandContext {
    let control: Control
    let gateway: GatewayContext
    let accountID: String
    let io: any CommandIO
    let json: Bool

    /// Runs an async Control operation from the session's own thread.
    func perform<T: Sendable>(_ operation: @escaping @Sendable (Control) async throws -> T) throws -> T {
        let control = self.control
        return try blockingAwait { try await operation(control) }
    }

    func print(_ text: String) {
        io.write(text + "\n")
    }

    func printJSON(_ value: JSON) {
        io.write(value.serialized(pretty: true) + "\n")
    }
}
