extension Connection {
    enum Timeout: String {
        case header, idle, body, send, linger
    }

    /// How long a lingering close waits for the client to close before closing anyway.
    static let lingerTime: UInt64 = 2_000_000_000

    /// Returns the earliest deadline that applies in the current state, and which timeout it is.
    private func nextDeadline() -> (deadline: UInt64, timeout: Timeout)? {
        let configuration = context.configuration
        var deadlines: [(UInt64, Timeout)] = []
        switch state {
        case .readingHead:
            if let idleSince {
                deadlines.append((idleSince + configuration.idleTimeout.nanoseconds, .idle))
            } else {
                deadlines.append((headStartedAt + configuration.headerTimeout.nanoseconds, .header))
            }
        case .readingBody:
            deadlines.append((lastReadAt + configuration.bodyTimeout.nanoseconds, .body))
        case .proxying(let exchange) where exchange.isWaitingForRequestBody:
            deadlines.append((lastReadAt + configuration.bodyTimeout.nanoseconds, .body))
        case .lingering(let since):
            deadlines.append((since + Self.lingerTime, .linger))
        default:
            break
        }
        if !output.isEmpty, !canWrite {
            deadlines.append((lastWriteAt + configuration.sendTimeout.nanoseconds, .send))
        }
        return deadlines.min { $0.0 < $1.0 }
    }

    /// Arms the connection's one timer for the next deadline, unless an earlier one is armed.
    ///
    /// A timer that fires early (because progress moved the deadline) re-arms itself.
    func updateTimer() {
        guard !isClosed, let next = nextDeadline() else { return }
        if let timer, timer.deadline <= next.deadline { return }
        if let timer { loop.cancelTimer(timer.id) }
        let id = loop.scheduleTimer(at: next.deadline) { [self] in
            timer = nil
            timerFired()
        }
        timer = (id, next.deadline)
    }

    private func timerFired() {
        guard !isClosed, let next = nextDeadline() else { return }
        guard next.deadline <= EventLoop.now() else {
            updateTimer()
            return
        }
        logger.debug(
            "connection timed out", ["client": remoteAddress, "timeout": next.timeout.rawValue])
        switch next.timeout {
        case .header where !input.isEmpty:
            sendError(status: 408, message: "the request head did not arrive in time", request: nil)
        case .body:
            if case .readingBody(let request) = state {
                sendError(
                    status: 408, message: "the request body did not arrive in time",
                    request: request)
            } else {
                close()
            }
        case .header, .idle, .send, .linger:
            close()
        }
        updateTimer()
    }
}
