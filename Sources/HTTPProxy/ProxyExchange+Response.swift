import Glibc

extension ProxyExchange {
    /// Whether the exchange reads from the upstream now: not while the client's write queue is
    /// full, and never more than one high-water mark of unparsed input.
    var wantsUpstreamInput: Bool {
        switch phase {
        case .awaitingResponse, .streamingResponse, .tunnel:
            return connection.output.count < highWaterMark
                && upstreamInput.readableCount < highWaterMark
        case .connecting, .finished:
            return false
        }
    }

    func driveUpstream() {
        guard upstreamFD >= 0, !isFinished else { return }
        if canWriteUpstream, !upstreamOutput.isEmpty { flushUpstream() }
        readUpstream()
    }

    /// Resumes the response once the client's write queue has room again.
    func clientOutputDrained() {
        if case .streamingResponse = phase { pumpResponseBody() }
        driveUpstream()
    }

    private func readUpstream() {
        var budget = 16
        while canReadUpstream, wantsUpstreamInput, !isFinished {
            guard budget > 0 else {
                loop.deferToNextIteration { [self] in driveUpstream() }
                return
            }
            budget -= 1
            switch Socket.read(upstreamFD, into: &upstreamInput, scratch: loop.scratch) {
            case .read:
                lastUpstreamActivity = EventLoop.now()
                processUpstreamInput()
            case .wouldBlock:
                canReadUpstream = false
            case .endOfFile:
                canReadUpstream = false
                upstreamClosed = true
                processUpstreamInput()
                return
            case .failed(let code):
                upstreamFailed(ProxyError.connectionLost(Socket.describe(code)))
                return
            }
        }
    }

    private func upstreamFailed(_ error: ProxyError) {
        if case .tunnel = phase {
            end()
            connection.closeAfterFlush()
        } else {
            fail(error)
        }
    }

    /// Parses response heads and moves body or tunnel bytes towards the client.
    private func processUpstreamInput() {
        while true {
            switch phase {
            case .awaitingResponse:
                switch responseParser.parse(&upstreamInput, requestMethod: request.head.method) {
                case .needMore:
                    if upstreamClosed {
                        fail(
                            ProxyError.connectionLost(
                                "the upstream closed before sending a response"))
                    }
                    return
                case .error(let error):
                    fail(ProxyError.invalidResponse(error.reason))
                    return
                case .response(let response):
                    handleResponseHead(response)
                }
            case .streamingResponse:
                pumpResponseBody()
                return
            case .tunnel:
                connection.output.append(upstreamInput.readAll())
                connection.flush()
                if upstreamClosed, !isFinished {
                    end()
                    connection.closeAfterFlush()
                }
                return
            case .connecting, .finished:
                return
            }
        }
    }

    private func handleResponseHead(_ response: ParsedResponse) {
        if response.status == 101 {
            startTunnel(response)
            return
        }
        if response.status < 200 {
            // Interim responses go to HTTP/1.1 clients only (RFC 9110 §15.2).
            if request.head.version == .http1_1 {
                connection.output.append(ProxyHeaders.interimResponseHead(response, upgrade: false))
                connection.flush()
            }
            return
        }
        status = response.status
        switch response.framing {
        case .none: clientFraming = .none
        case .length: clientFraming = .identity
        case .chunked, .untilClose:
            clientFraming = request.head.version == .http1_1 ? .chunked : .untilClose
        }
        keepAlive = request.keepAlive && !clientHalfClosed
        if case .untilClose = clientFraming { keepAlive = false }
        connection.output.append(
            ProxyHeaders.clientResponseHead(
                response, framing: clientFraming, keepAlive: keepAlive,
                clientVersion: request.head.version))
        headSent = true
        responseDecoder = BodyDecoder(framing: response.framing)
        phase = .streamingResponse
    }

    /// Decodes response body bytes into the client's write queue until it is full.
    func pumpResponseBody() {
        while connection.output.count < highWaterMark, case .streamingResponse = phase {
            let event: BodyDecoder.Event?
            do {
                event = try responseDecoder.next(&upstreamInput)
            } catch {
                fail(ProxyError.invalidResponse(error.reason))
                return
            }
            switch event {
            case nil:
                if upstreamClosed {
                    guard responseDecoder.finishAtEndOfFile() else {
                        fail(ProxyError.connectionLost("the upstream closed before the body ended"))
                        return
                    }
                    continue
                }
                connection.flush()
                return
            case .data(let data):
                connection.output.append(
                    clientFraming == .chunked ? ResponseEncoding.chunk(data) : Array(data))
            case .end:
                if clientFraming == .chunked {
                    connection.output.append(ResponseEncoding.lastChunk)
                }
                complete()
                return
            }
        }
        connection.flush()
    }

    /// Ends an exchange whose response is queued in full.
    private func complete() {
        // Unread request body bytes would be taken for the next request, so close instead.
        let persist = keepAlive && requestBodyDone && !upstreamWriteFailed
        connection.logRequest(request.head, status: status)
        end()
        connection.proxyFinished(keepAlive: persist)
    }

    private func startTunnel(_ response: ParsedResponse) {
        // NOTE: an upgrade request that carries a body gets 502. The protocol switch would
        // have to wait for the body to end (RFC 9110 §7.8), and this exchange does not track it.
        guard request.wantsUpgrade, requestBodyDone else {
            fail(ProxyError.invalidResponse("101 Switching Protocols without an upgrade request"))
            return
        }
        status = 101
        connection.output.append(ProxyHeaders.interimResponseHead(response, upgrade: true))
        headSent = true
        phase = .tunnel
        if let timer { loop.cancelTimer(timer) }
        timer = nil
        connection.logRequest(request.head, status: 101)
        // Bytes the client sent after its request already belong to the new protocol.
        if !connection.input.isEmpty {
            upstreamOutput.append(connection.input.readAll())
            flushUpstream()
        }
        connection.flush()
        loop.deferToNextIteration { [connection] in connection.drive() }
    }

    /// Arms the upstream timeout, which covers waiting for the response and its body.
    func armTimer() {
        guard timer == nil else { return }
        let deadline = lastUpstreamActivity + context.configuration.upstreamTimeout.nanoseconds
        timer = loop.scheduleTimer(at: deadline) { [self] in
            timer = nil
            upstreamTimerFired()
        }
    }

    private func upstreamTimerFired() {
        switch phase {
        case .awaitingResponse, .streamingResponse: break
        default: return
        }
        let now = EventLoop.now()
        // While the client's queue is full the upstream waits on the client, not the reverse.
        if !wantsUpstreamInput { lastUpstreamActivity = now }
        let timeout = context.configuration.upstreamTimeout
        if lastUpstreamActivity + timeout.nanoseconds <= now {
            let seconds = Double(timeout.components.seconds)
            fail(ProxyError.timedOut(seconds: seconds))
        } else {
            armTimer()
        }
    }
}
