import CLibSSH
import Dispatch
import Foundation
import Glibc
import Support
import Synchronization

/// The SSH server: listens on one address, accepts connections and runs one thread per session.
///
/// Each session thread owns its libssh session (libssh is not thread-safe per session) and
/// calls the `SSHSessionHandler` for authentication and requests. Lifecycle: `start()` once,
/// then `shutdown()` once; the server cannot be restarted (create a new one instead).
public final class SSHServer: Sendable {
    /// Listening address, host keys and limits.
    public struct Configuration: Sendable {
        /// Numeric IPv4 or IPv6 address to listen on, such as `0.0.0.0`, `::` or `127.0.0.1`.
        public var host: String
        /// TCP port; 0 lets the kernel pick a free port, readable from `SSHServer.port`.
        public var port: Int
        /// Directory of the host key files, created with mode 0700 if missing.
        public var hostKeyDirectory: String
        /// Time from TCP accept to the end of the key exchange.
        public var keyExchangeTimeout: Duration = .seconds(10)
        /// Time from TCP accept to successful authentication, key exchange included.
        public var authTimeout: Duration = .seconds(30)
        /// Rejected authentication attempts allowed per connection before it is closed.
        /// Accepted unsigned public-key probes (SSH_MSG_USERAUTH_PK_OK) and "none" do not count.
        public var maxAuthAttempts = 6
        /// Rejected authentication attempts allowed per source address within
        /// `authFailureWindow`; past it the address's connections are closed after the key
        /// exchange with a disconnect message, until its oldest failure leaves the window.
        public var maxAuthFailuresPerAddress = 30
        public var authFailureWindow: Duration = .seconds(600)
        /// Connections served at once; further connections are closed right after accept.
        public var maxConnections = 1024
        /// Connections served at once from one source address.
        public var maxConnectionsPerAddress = 64
        /// Authenticated connections one key may have at once. Past it, a connection's
        /// requests get an error on stderr with exit status 7.
        public var maxSessionsPerKey = 32
        /// Session channels one connection may have open at once (OpenSSH multiplexing).
        public var maxChannelsPerSession = 10
        /// Time `shutdown()` waits for running sessions after disconnecting them.
        public var shutdownGracePeriod: Duration = .seconds(5)

        public init(host: String, port: Int, hostKeyDirectory: String) {
            self.host = host
            self.port = port
            self.hostKeyDirectory = hostKeyDirectory
        }
    }

    private enum State {
        case idle
        case running(port: Int, fingerprints: [String], acceptLoop: AcceptLoop)
        case stopped
    }

    let configuration: Configuration
    let handler: any SSHSessionHandler
    let logger: Logger
    private let state = Mutex(State.idle)
    let connections: ConnectionRegistry
    let authFailures: AuthFailureTracker

    public init(configuration: Configuration, handler: any SSHSessionHandler, logger: Logger) {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        self.connections = ConnectionRegistry(
            maxConnections: configuration.maxConnections,
            maxPerAddress: configuration.maxConnectionsPerAddress)
        self.authFailures = AuthFailureTracker(
            limit: configuration.maxAuthFailuresPerAddress, window: configuration.authFailureWindow)
    }

    /// The listening port (the kernel's choice when the configuration asked for 0), or 0
    /// before `start()`.
    public var port: Int {
        state.withLock { state in
            if case .running(let port, _, _) = state { return port }
            return 0
        }
    }

    /// SHA-256 fingerprints of the host keys (ed25519, ecdsa-sha2-nistp256, rsa), for logs and
    /// for users who verify the server; empty before `start()`.
    public var hostKeyFingerprints: [String] {
        state.withLock { state in
            if case .running(_, let fingerprints, _) = state { return fingerprints }
            return []
        }
    }

    /// Loads or generates the host keys, binds the listening socket and starts accepting.
    ///
    /// Throws `GatewayError` with code `addressInUse` naming `host:port` when the port is taken.
    public func start() throws {
        try state.withLock { state in
            guard case .idle = state else {
                throw GatewayError.invalidState("start", "the server was already started")
            }
            LibSSH.initialize()
            let hostKeys = try HostKeys.loadOrGenerate(
                in: configuration.hostKeyDirectory, logger: logger)
            let listener = try ListeningSocket.open(
                host: configuration.host, port: configuration.port)
            let loop: AcceptLoop
            do {
                loop = try AcceptLoop(listener: listener, hostKeys: hostKeys, server: self)
            } catch {
                close(listener.fd)
                throw error
            }
            let fingerprints = hostKeys.publicKeys.map(\.fingerprint)
            state = .running(port: listener.port, fingerprints: fingerprints, acceptLoop: loop)
            loop.start()
            for key in hostKeys.publicKeys {
                logger.info(
                    "host key", ["algorithm": key.algorithm, "fingerprint": key.fingerprint])
            }
            logger.info(
                "listening",
                ["address": formatAddress(configuration.host, listener.port), "protocol": "ssh"])
        }
    }

    /// Stops accepting, disconnects every session and waits up to the grace period for
    /// their threads to finish. Safe to call more than once.
    public func shutdown() {
        let loop: AcceptLoop? = state.withLock { state in
            defer { state = .stopped }
            if case .running(_, _, let loop) = state { return loop }
            return nil
        }
        guard let loop else { return }
        loop.stop()

        let remaining = connections.disconnectAll()
        let finished = connections.waitUntilEmpty(timeout: configuration.shutdownGracePeriod)
        if !finished {
            logger.warning(
                "sessions still running after the shutdown grace period",
                ["sessions": String(connections.count)])
        }
        logger.info("stopped", ["protocol": "ssh", "disconnected": String(remaining)])
    }
}

/// Process-wide libssh setup.
enum LibSSH {
    private static let initialized: Bool = {
        // A client that hangs up makes writes fail with EPIPE; without this the signal
        // would terminate the whole daemon.
        signal(SIGPIPE, SIG_IGN)
        return ssh_init() == SSH_OK
    }()

    static func initialize() {
        _ = initialized
    }
}
