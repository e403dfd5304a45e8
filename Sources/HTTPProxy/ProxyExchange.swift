import Glibc

/// One request forwarded to an upstream, from connecting to the end of its response or tunnel.
///
/// The request body is streamed upstream as it arrives and the response streamed back, so
/// neither is held in full. Each direction stops reading its source while the destination's
/// write queue is past `ServerContext.highWaterMark`.
final class ProxyExchange: EventHandler, @unchecked Sendable {
    // @unchecked: touched only on the connection's loop thread; the connect task hands its
    // result over through `EventLoop.execute`.
    enum Phase {
        case connecting
        case awaitingResponse
        case streamingResponse
        /// After `101 Switching Protocols`: bytes are copied both ways unchanged.
        case tunnel
        case finished
    }

    let connection: Connection
    let request: ParsedRequest
    let target: ProxyTarget
    var phase = Phase.connecting
    var upstreamFD: Int32 = -1
    var token: EventLoop.Token?
    var upstreamInput = ByteBuffer()
    var upstreamOutput = OutputQueue()
    var canReadUpstream = true
    var canWriteUpstream = true
    /// The upstream closed its side; what is buffered is all that will come.
    var upstreamClosed = false
    /// A write upstream failed, so the rest of the request body cannot be delivered.
    var upstreamWriteFailed = false
    var requestDecoder: BodyDecoder
    var requestBodyDone: Bool
    /// The client closed its side after a complete request; the response ends with a close.
    var clientHalfClosed = false
    var responseParser: ResponseParser
    var responseDecoder = BodyDecoder(framing: .none)
    var clientFraming = ProxyHeaders.ClientFraming.none
    /// Whether the final response head has been queued for the client.
    var headSent = false
    var status = 0
    var keepAlive = false
    var lastUpstreamActivity: UInt64 = 0
    var timer: TimerHeap.ID?
    private var finishCalled = false

    var loop: EventLoop { connection.loop }
    var context: ServerContext { connection.context }
    var highWaterMark: Int { context.highWaterMark }

    init(connection: Connection, request: ParsedRequest, target: ProxyTarget) {
        self.connection = connection
        self.request = request
        self.target = target
        requestDecoder = BodyDecoder(framing: request.framing)
        requestBodyDone = requestDecoder.isDone
        let configuration = connection.context.configuration
        responseParser = ResponseParser(
            maxHeadBytes: configuration.maxHeaderBytes + configuration.maxRequestLineBytes,
            maxHeaderCount: configuration.maxHeaderCount)
    }

    /// Calls `onStart` and connects in a task; the result comes back on the loop.
    func start() {
        target.onStart()
        let target = target
        let loop = loop
        Task {
            do {
                let fd = try await target.connect()
                if !loop.execute({ self.connected(fd) }) { Glibc.close(fd) }
            } catch {
                loop.execute { self.connectFailed(error) }
            }
        }
    }

    private func connected(_ fd: Int32) {
        guard case .connecting = phase else {
            Glibc.close(fd)
            return
        }
        upstreamFD = fd
        guard Socket.setNonBlocking(fd), let token = loop.register(fd, handler: self) else {
            fail(ProxyError.connectionLost("cannot watch the upstream socket"))
            return
        }
        Socket.setNoDelay(fd)
        self.token = token
        phase = .awaitingResponse
        lastUpstreamActivity = EventLoop.now()
        upstreamOutput.append(
            ProxyHeaders.upstreamRequestHead(request, configuration: context.configuration))
        pumpRequestBody()
        flushUpstream()
        armTimer()
        connection.drive()
    }

    private func connectFailed(_ error: any Error) {
        guard case .connecting = phase else { return }
        context.logger.warning(
            "upstream connect failed", ["host": request.head.host, "error": "\(error)"])
        fail(error, alreadyLogged: true)
    }

    /// Ends the exchange after an upstream failure: the client gets `unavailable(error)` when
    /// no response head was sent yet, and a closed connection otherwise.
    func fail(_ error: any Error, alreadyLogged: Bool = false) {
        guard !isFinished else { return }
        if !alreadyLogged {
            context.logger.warning(
                "proxy exchange failed",
                ["host": request.head.host, "error": "\(error)", "head_sent": "\(headSent)"])
        }
        let headWasSent = headSent
        end()
        if headWasSent {
            connection.close()
        } else {
            connection.send(target.unavailable(error), for: request, closeAfter: !requestBodyDone)
            connection.drive()
        }
    }

    var isFinished: Bool {
        if case .finished = phase { return true }
        return false
    }

    /// Closes the upstream socket and calls `onFinish`; safe to call more than once.
    func end() {
        phase = .finished
        if let timer { loop.cancelTimer(timer) }
        timer = nil
        if upstreamFD >= 0 {
            if let token { loop.deregister(upstreamFD, token: token) }
            token = nil
            Glibc.close(upstreamFD)
            upstreamFD = -1
        }
        if !finishCalled {
            finishCalled = true
            target.onFinish()
        }
    }

    /// Closes the upstream side after the client connection closed.
    func clientClosed() {
        guard !isFinished else { return }
        context.logger.debug("client closed during proxy exchange", ["host": request.head.host])
        end()
    }

    func handleEvents(_ events: UInt32) {
        if events & (Epoll.input | Epoll.readHangUp | Epoll.hangUp | Epoll.error) != 0 {
            canReadUpstream = true
        }
        if events & (Epoll.output | Epoll.hangUp | Epoll.error) != 0 {
            canWriteUpstream = true
        }
        driveUpstream()
    }

    func loopStopped() {
        end()
    }
}
