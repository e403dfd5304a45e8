import Glibc
import Support
import Synchronization

/// An HTTP/1.1 server on epoll event loops that routes each request through an `HTTPResponder`.
public final class HTTPServer: Sendable {
    /// Listening address, limits and timeouts.
    public struct Configuration: Sendable {
        /// An IP address or host name to listen on.
        public var host: String
        /// The TCP port; 0 picks a free port, which `HTTPServer.port` returns after `start`.
        public var port: Int
        /// The number of event-loop threads; connections are spread over them round-robin.
        public var eventLoopCount = 1
        /// Maximum length of the request line in bytes; a longer one gets 414.
        public var maxRequestLineBytes = 8 * 1024
        /// Maximum size of the header section in bytes, CRLFs included; a larger one gets 431.
        public var maxHeaderBytes = 64 * 1024
        /// Maximum number of header field lines in one request; more get 431.
        public var maxHeaderCount = 100
        /// Time allowed from the first byte of a request (or from accept) to its last header
        /// byte; past it the server sends 408 and closes.
        public var headerTimeout: Duration = .seconds(30)
        /// Time a keep-alive connection may sit between requests before the server closes it.
        public var idleTimeout: Duration = .seconds(75)
        /// Time allowed between two reads of a request body before the server gives up.
        public var bodyTimeout: Duration = .seconds(30)
        /// Time allowed without write progress while the client does not read its response.
        public var sendTimeout: Duration = .seconds(30)
        /// Time a proxied upstream may send nothing while the server waits on it.
        public var upstreamTimeout: Duration = .seconds(60)
        /// The `X-Forwarded-Proto` and `Forwarded` proto sent upstream.
        public var forwardedProto = "http"
        /// The pseudonym this server uses in `Via` (RFC 9110 §7.6.3).
        public var viaName = "particle"
        /// Builds the responses the server itself sends for malformed, oversized or slow
        /// requests (the head is nil when it could not be parsed). When it is nil or returns nil,
        /// the server sends an `ErrorPage`.
        public var errorResponse: (@Sendable (_ status: Int, _ message: String, _ head: HTTPRequestHead?) -> HTTPResponse?)?

        public init(host: String = "127.0.0.1", port: Int = 8080) {
            self.host = host
            self.port = port
        }
    }

    private enum State {
        case idle
        case running(listener: Int32, port: Int, loops: [EventLoop])
        case stopped
    }

    private let context: ServerContext
    private let state = Mutex(State.idle)

    public init(configuration: Configuration, responder: any HTTPResponder, logger: Logger) {
        context = ServerContext(configuration: configuration, responder: responder, logger: logger)
    }

    /// The port the server listens on; the configured port until `start` has run.
    public var port: Int {
        state.withLock { state in
            if case .running(_, let port, _) = state { return port }
            return context.configuration.port
        }
    }

    /// Binds the listening socket and starts the event loops.
    ///
    /// Throws `HTTPServerError` naming host and port when the address cannot be bound, for
    /// example because another process listens on it.
    public func start() throws {
        let configuration = context.configuration
        try state.withLock { state in
            guard case .idle = state else {
                throw HTTPServerError.invalidState(
                    "start the HTTP server", "it was already started")
            }
            let (listener, port) = try Listener.bind(
                host: configuration.host, port: configuration.port)
            var loops: [EventLoop] = []
            do {
                for index in 0..<max(1, configuration.eventLoopCount) {
                    loops.append(try EventLoop(name: "http-loop-\(index)"))
                }
            } catch {
                Glibc.close(listener)
                throw error
            }
            for loop in loops { loop.start() }
            let acceptor = Acceptor(fd: listener, loops: loops, context: context)
            loops[0].execute { acceptor.start() }
            state = .running(listener: listener, port: port, loops: loops)
            context.logger.info("listening", ["host": configuration.host, "port": "\(port)"])
        }
    }

    /// Stops accepting, closes every connection (ending proxied exchanges) and stops the loops.
    public func shutdown() {
        let running: (port: Int, loops: [EventLoop])? = state.withLock { state in
            defer { state = .stopped }
            if case .running(_, let port, let loops) = state { return (port, loops) }
            return nil
        }
        guard let running else { return }
        // Loop 0 owns the listening socket and closes it when it stops.
        for loop in running.loops { loop.stop() }
        context.logger.info("stopped", ["port": "\(running.port)"])
    }
}

/// The configuration, responder and logger shared by every connection of one server.
final class ServerContext: Sendable {
    let configuration: HTTPServer.Configuration
    let responder: any HTTPResponder
    let logger: Logger
    let limits: RequestParser.Limits
    /// The size at which a write queue counts as full and reading from its source pauses.
    let highWaterMark = 256 * 1024

    init(configuration: HTTPServer.Configuration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        limits = RequestParser.Limits(
            maxRequestLineBytes: configuration.maxRequestLineBytes,
            maxHeaderBytes: configuration.maxHeaderBytes,
            maxHeaderCount: configuration.maxHeaderCount)
    }
}

extension Duration {
    /// The duration in whole nanoseconds, for deadlines on the monotonic clock.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
