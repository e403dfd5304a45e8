import Glibc

extension Connection {
    func parseHead() {
        guard !input.isEmpty else { return }
        if idleSince != nil {
            idleSince = nil
            headStartedAt = EventLoop.now()
        }
        switch parser.parse(&input, remoteAddress: remoteAddress) {
        case .needMore:
            return
        case .error(let error):
            logger.debug(
                "request rejected",
                ["client": remoteAddress, "status": "\(error.status)", "reason": error.reason])
            sendError(status: error.status, message: error.reason, request: nil)
        case .request(let request):
            beginRequest(request)
        }
    }

    private func beginRequest(_ request: ParsedRequest) {
        requestStartedAt = EventLoop.now()
        state = .routing(request)
        let responder = context.responder
        let head = request.head
        Task {
            let action = await responder.route(head)
            self.loop.execute { self.routed(action) }
        }
    }

    private func routed(_ action: HTTPAction) {
        guard case .routing(let request) = state else { return }
        switch action {
        case .respond(let response):
            send(response, for: request, closeAfter: request.framing != .none)
        case .readBody(let limit, let handler):
            startBody(request, limit: limit, handler: handler)
        case .proxy(let target):
            let exchange = ProxyExchange(connection: self, request: request, target: target)
            state = .proxying(exchange)
            exchange.start()
        }
        drive()
    }

    /// Queues `response` with the framing fields the server owns, then writes it.
    func send(_ response: HTTPResponse, for request: ParsedRequest?, closeAfter: Bool) {
        let keepAlive =
            !closeAfter && (request?.keepAlive ?? false)
            && !response.headers.tokens(for: "connection").contains("close")
        var headers = response.headers
        for name in ["content-length", "transfer-encoding", "connection"] { headers.remove(name) }
        if !headers.contains("date") { headers.add(name: "Date", value: loop.dateCache.current()) }
        let forbidsBody = ResponseEncoding.statusForbidsBody(response.status)
        if !forbidsBody, response.status != 304 {
            headers.add(name: "Content-Length", value: "\(response.body.count)")
        }
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request?.head.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        output.append(ResponseEncoding.head(status: response.status, headers: headers))
        if !forbidsBody, response.status != 304, request?.head.method != "HEAD" {
            output.append(response.body)
        }
        if let request { logRequest(request.head, status: response.status) }
        state = .responding(keepAlive: keepAlive)
        flush()
    }

    /// Sends a server-made error page and closes the connection after it.
    func sendError(status: Int, message: String, request: ParsedRequest?) {
        bodyReader = nil
        let title = ResponseEncoding.reasonPhrase(status)
        let response =
            context.configuration.errorResponse?(status, message, request?.head)
            ?? ErrorPage.response(status: status, title: title, message: message, for: request?.head)
        send(response, for: request, closeAfter: true)
    }

    /// Logs one line per finished request; never the query, body or credentials.
    func logRequest(_ head: HTTPRequestHead, status: Int) {
        let milliseconds = (EventLoop.now() - requestStartedAt) / 1_000_000
        logger.debug(
            "request",
            [
                "method": head.method, "host": head.host, "path": head.path,
                "status": "\(status)", "ms": "\(milliseconds)", "client": remoteAddress,
            ])
    }

    /// Returns to reading heads after a response on a persistent connection.
    func awaitNextRequest() {
        state = .readingHead
        let now = EventLoop.now()
        if input.isEmpty {
            idleSince = now
        } else {
            headStartedAt = now
        }
        loop.deferToNextIteration { [self] in
            processInput()
            drive()
        }
    }

    private func startBody(
        _ request: ParsedRequest, limit: Int,
        handler: @escaping @Sendable (HTTPRequestHead, [UInt8]) async -> HTTPResponse
    ) {
        if case .length(let length) = request.framing, length > limit {
            sendError(
                status: 413, message: "request body is larger than \(limit) bytes", request: request
            )
            return
        }
        if request.expectsContinue, request.framing != .none {
            output.append(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            flush()
        }
        bodyReader = BodyReader(
            decoder: BodyDecoder(framing: request.framing), limit: limit, handler: handler)
        state = .readingBody(request)
        lastReadAt = EventLoop.now()
        continueBody()
    }

    func continueBody() {
        guard case .readingBody(let request) = state, bodyReader != nil else { return }
        while true {
            let event: BodyDecoder.Event?
            do {
                event = try bodyReader!.decoder.next(&input)
            } catch {
                sendError(status: 400, message: error.reason, request: request)
                return
            }
            switch event {
            case nil:
                return
            case .data(let data):
                guard bodyReader!.body.count + data.count <= bodyReader!.limit else {
                    let limit = bodyReader!.limit
                    sendError(
                        status: 413, message: "request body is larger than \(limit) bytes",
                        request: request)
                    return
                }
                bodyReader!.body.append(contentsOf: data)
            case .end:
                finishBody(request)
                return
            }
        }
    }

    private func finishBody(_ request: ParsedRequest) {
        guard let reader = bodyReader else { return }
        bodyReader = nil
        state = .handling(request)
        let head = request.head
        Task {
            let response = await reader.handler(head, reader.body)
            self.loop.execute { self.handled(response) }
        }
    }

    private func handled(_ response: HTTPResponse) {
        guard case .handling(let request) = state else { return }
        send(response, for: request, closeAfter: false)
        drive()
    }

    /// Ends a proxied exchange whose response has been queued in full.
    func proxyFinished(keepAlive: Bool) {
        state = .responding(keepAlive: keepAlive)
        output.isEmpty ? finishResponse(keepAlive: keepAlive) : flush()
    }
}
