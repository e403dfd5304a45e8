import Glibc

extension ProxyExchange {
    /// Whether the exchange takes client input now: request body bytes, or tunnel bytes.
    var wantsClientInput: Bool {
        switch phase {
        case .awaitingResponse, .streamingResponse:
            return !requestBodyDone && !upstreamWriteFailed && upstreamOutput.count < highWaterMark
        case .tunnel:
            return upstreamOutput.count < highWaterMark
        case .connecting, .finished:
            return false
        }
    }

    /// Whether the exchange is stalled on the client sending more of the request body.
    var isWaitingForRequestBody: Bool {
        switch phase {
        case .awaitingResponse, .streamingResponse: return wantsClientInput
        default: return false
        }
    }

    /// Moves newly read client bytes towards the upstream.
    func clientInputAvailable() {
        switch phase {
        case .awaitingResponse, .streamingResponse:
            pumpRequestBody()
        case .tunnel:
            upstreamOutput.append(connection.input.readAll())
            flushUpstream()
        case .connecting, .finished:
            break
        }
    }

    /// Decodes request body bytes from the client's input into the upstream's write queue.
    func pumpRequestBody() {
        let chunked = request.framing == .chunked
        while !requestBodyDone, !upstreamWriteFailed, upstreamOutput.count < highWaterMark {
            let event: BodyDecoder.Event?
            do {
                event = try requestDecoder.next(&connection.input)
            } catch {
                rejectRequestBody(error)
                return
            }
            switch event {
            case nil:
                flushUpstream()
                return
            case .data(let data):
                upstreamOutput.append(chunked ? ResponseEncoding.chunk(data) : Array(data))
            case .end:
                requestBodyDone = true
                if chunked { upstreamOutput.append(ResponseEncoding.lastChunk) }
            }
        }
        flushUpstream()
    }

    private func rejectRequestBody(_ error: HeadError) {
        context.logger.debug(
            "invalid request body", ["host": request.head.host, "reason": error.reason])
        let headWasSent = headSent
        end()
        if headWasSent {
            connection.close()
        } else {
            connection.sendError(status: 400, message: error.reason, request: request)
        }
    }

    /// Handles the client closing its side of the connection.
    func clientEndOfFile() {
        switch phase {
        case .tunnel:
            flushUpstream()
            end()
            connection.closeAfterFlush()
        case .connecting, .awaitingResponse, .streamingResponse:
            if requestBodyDone {
                clientHalfClosed = true
                keepAlive = false
            } else {
                context.logger.debug(
                    "client closed before its request body ended", ["host": request.head.host])
                end()
                connection.close()
            }
        case .finished:
            connection.close()
        }
    }

    /// Writes the upstream's queue until it is empty or the socket would block.
    func flushUpstream() {
        guard upstreamFD >= 0, canWriteUpstream, !upstreamOutput.isEmpty, !upstreamWriteFailed
        else {
            return
        }
        let before = upstreamOutput.count
        switch upstreamOutput.write(to: upstreamFD) {
        case .written:
            break
        case .wouldBlock:
            canWriteUpstream = false
        case .failed(let code):
            upstreamWriteFailed = true
            upstreamOutput = OutputQueue()
            context.logger.debug(
                "upstream write failed",
                ["host": request.head.host, "error": Socket.describe(code)])
            if case .tunnel = phase {
                end()
                connection.closeAfterFlush()
                return
            }
        }
        if upstreamOutput.count < before {
            lastUpstreamActivity = EventLoop.now()
            if wantsClientInput, connection.canRead {
                loop.deferToNextIteration { [connection] in connection.drive() }
            }
        }
    }
}
