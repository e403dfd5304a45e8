import Glibc
import Support

/// One client connection: reads requests in order, routes each one and writes the responses.
///
/// Requests are handled one at a time. While a request is routed, handled or responded to, the
/// connection stops reading, so pipelined requests wait in the socket and stay in order.
final class Connection: EventHandler, @unchecked Sendable {
    // @unchecked: touched only on `loop`'s thread; tasks reach it through `EventLoop.execute`.
    enum State {
        case readingHead
        /// The responder's `route` is running.
        case routing(ParsedRequest)
        case readingBody(ParsedRequest)
        /// A `readBody` handler is running.
        case handling(ParsedRequest)
        /// A response is being written; then the connection waits for the next request or closes.
        case responding(keepAlive: Bool)
        case proxying(ProxyExchange)
        /// Writing what is queued, then closing.
        case closing
        /// Output is shut down; input is read and dropped until the client closes (RFC 9112 §9.6).
        case lingering(since: UInt64)
        case closed
    }

    struct BodyReader {
        var decoder: BodyDecoder
        let limit: Int
        let handler: @Sendable (HTTPRequestHead, [UInt8]) async -> HTTPResponse
        var body: [UInt8] = []
    }

    let fd: Int32
    let loop: EventLoop
    let context: ServerContext
    let remoteAddress: String
    var token: EventLoop.Token?
    var state = State.readingHead
    var input = ByteBuffer()
    var output = OutputQueue()
    var canRead = true
    var canWrite = true
    var parser: RequestParser
    var bodyReader: BodyReader?
    var timer: (id: TimerHeap.ID, deadline: UInt64)?
    /// When the current request head started: accept, or the first byte after a keep-alive wait.
    var headStartedAt: UInt64
    /// When the connection went idle between requests; nil while a request is in progress.
    var idleSince: UInt64?
    var lastReadAt: UInt64
    var lastWriteAt: UInt64
    var requestStartedAt: UInt64 = 0

    var logger: Logger { context.logger }

    init(fd: Int32, loop: EventLoop, context: ServerContext, remoteAddress: String) {
        self.fd = fd
        self.loop = loop
        self.context = context
        self.remoteAddress = remoteAddress
        parser = RequestParser(limits: context.limits)
        let now = EventLoop.now()
        headStartedAt = now
        lastReadAt = now
        lastWriteAt = now
    }

    func start() {
        token = loop.register(fd, handler: self)
        guard token != nil else {
            Glibc.close(fd)
            state = .closed
            return
        }
        updateTimer()
    }

    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    func handleEvents(_ events: UInt32) {
        if events & (Epoll.input | Epoll.readHangUp | Epoll.hangUp | Epoll.error) != 0 {
            canRead = true
        }
        if events & (Epoll.output | Epoll.hangUp | Epoll.error) != 0 {
            canWrite = true
        }
        drive()
    }

    func loopStopped() {
        close()
    }

    /// Writes what is queued, reads what the current state wants, and re-arms the timer.
    func drive() {
        guard !isClosed else { return }
        if canWrite, !output.isEmpty { flush() }
        readWhileWanted()
        updateTimer()
    }

    /// Whether the current state consumes client input now.
    private var wantsToRead: Bool {
        switch state {
        case .readingHead:
            return input.readableCount <= context.limits.maxRequestLineBytes
                + context.limits.maxHeaderBytes + 8
        case .readingBody, .lingering:
            return true
        case .proxying(let exchange):
            return exchange.wantsClientInput
        case .routing, .handling, .responding, .closing, .closed:
            return false
        }
    }

    private func readWhileWanted() {
        // Bound the reads per wakeup so that one busy connection cannot starve the others.
        var budget = 16
        while canRead, wantsToRead, !isClosed {
            guard budget > 0 else {
                loop.deferToNextIteration { [self] in drive() }
                return
            }
            budget -= 1
            switch Socket.read(fd, into: &input, scratch: loop.scratch) {
            case .read:
                lastReadAt = EventLoop.now()
                processInput()
            case .wouldBlock:
                canRead = false
            case .endOfFile:
                canRead = false
                endOfInput()
                return
            case .failed(let code):
                logger.debug(
                    "client read failed", ["client": remoteAddress, "error": Socket.describe(code)])
                close()
                return
            }
        }
    }

    /// Hands buffered input to whatever the current state does with it.
    func processInput() {
        switch state {
        case .readingHead: parseHead()
        case .readingBody: continueBody()
        case .proxying(let exchange): exchange.clientInputAvailable()
        case .lingering: input.consume(input.readableCount)
        case .routing, .handling, .responding, .closing, .closed: break
        }
    }

    private func endOfInput() {
        switch state {
        case .proxying(let exchange):
            exchange.clientEndOfFile()
        default:
            // A head or body cut short, or the end of a lingering close, so no response is due.
            close()
        }
    }

    /// Writes queued output until it is empty or the socket would block.
    func flush() {
        guard canWrite, !output.isEmpty, !isClosed else { return }
        let before = output.count
        let outcome = output.write(to: fd)
        if output.count < before { lastWriteAt = EventLoop.now() }
        switch outcome {
        case .written:
            break
        case .wouldBlock:
            canWrite = false
        case .failed(let code):
            logger.debug(
                "client write failed", ["client": remoteAddress, "error": Socket.describe(code)])
            close()
            return
        }
        if output.isEmpty {
            outputDrained()
        } else if case .proxying(let exchange) = state, output.count <= context.highWaterMark / 4 {
            loop.deferToNextIteration { exchange.clientOutputDrained() }
        }
    }

    private func outputDrained() {
        switch state {
        case .responding(let keepAlive):
            finishResponse(keepAlive: keepAlive)
        case .closing:
            close()
        case .proxying(let exchange):
            loop.deferToNextIteration { exchange.clientOutputDrained() }
        default:
            break
        }
    }

    /// Waits for the next request, or closes when the connection does not persist.
    func finishResponse(keepAlive: Bool) {
        keepAlive ? awaitNextRequest() : startLingering()
    }

    /// Queues the remaining output and closes once it is written.
    func closeAfterFlush() {
        state = .closing
        output.isEmpty ? close() : flush()
    }

    /// Shuts down output and drops input until the client closes, so that unread request bytes
    /// do not make the kernel reset the connection before the client has read the response.
    private func startLingering() {
        shutdown(fd, Int32(SHUT_WR))
        state = .lingering(since: EventLoop.now())
        input.consume(input.readableCount)
        loop.deferToNextIteration { [self] in drive() }
    }

    /// Closes the socket now, ending any proxied exchange.
    func close() {
        guard !isClosed else { return }
        let previous = state
        state = .closed
        bodyReader = nil
        if let timer { loop.cancelTimer(timer.id) }
        timer = nil
        if let token { loop.deregister(fd, token: token) }
        token = nil
        Glibc.close(fd)
        if case .proxying(let exchange) = previous { exchange.clientClosed() }
    }
}
