import CLibSSH

/// The terminal a client requested with `ssh -t` (an SSH "pty-req").
public struct SSHPseudoTerminal: Sendable, Hashable {
    /// The client's `TERM`, such as `xterm-256color`.
    public var term: String
    public var columns: Int
    public var rows: Int
}

/// Standard input, output and error of one exec or shell request, over its SSH channel.
///
/// Use it only on the thread that called the handler, and only during that call: every
/// method drives the connection's libssh session. Writes block while the client's window is
/// full. After the client hangs up, writes are dropped and return false, and `isClosed`
/// turns true; check it in long-running commands to stop early.
public final class SSHCommandIO {
    let session: ssh_session
    /// The session's event loop, which a relay may add another session or socket to.
    let event: ssh_event
    let channel: ssh_channel
    private let state: SSHSession.Channel
    private var writeFailed = false
    /// The signal that ended the command, sent by `finish` in place of an exit status.
    private var exitSignal: SSHExitSignal?

    /// Requests of this connection that the server rejected without telling the client why.
    public let rejectedRequests: [SSHRejectedRequest]

    init(
        session: ssh_session, event: ssh_event, channel: SSHSession.Channel,
        rejectedRequests: [SSHRejectedRequest]
    ) {
        self.session = session
        self.event = event
        self.channel = channel.channel
        self.state = channel
        var rejected = rejectedRequests
        if channel.agentForwardingRequested { rejected.append(.agentForwarding) }
        self.rejectedRequests = rejected
    }

    /// The terminal the client requested, or nil for a plain exec request (`ssh host cmd`).
    /// When set, writes translate each "\n" into "\r\n" as a terminal's line discipline would.
    /// Its size follows the client's window-change requests.
    public var pseudoTerminal: SSHPseudoTerminal? { state.pseudoTerminal }

    /// Variables the client sent in "env" requests (OpenSSH's `SendEnv`, `SetEnv`).
    public var environment: [(name: String, value: String)] { state.environment }

    /// Returns the signals (`INT`, `TERM`) that the client sent since the last call, in order.
    public func takeSignals() -> [String] {
        defer { state.pendingSignals.removeAll() }
        return state.pendingSignals
    }

    /// Makes `finish` report that the command was killed by `signal`, as OpenSSH's sshd does
    /// with an "exit-signal" request, instead of sending the returned exit status.
    public func setExitSignal(_ signal: SSHExitSignal) {
        exitSignal = signal
    }

    /// Sends bytes to the client's standard output; returns false if the channel is closed.
    @discardableResult
    public func write(_ bytes: some Collection<UInt8>) -> Bool {
        send(Array(bytes), isError: false)
    }

    /// Sends UTF-8 text to the client's standard output; returns false if the channel is closed.
    @discardableResult
    public func write(_ text: String) -> Bool {
        send(Array(text.utf8), isError: false)
    }

    /// Sends bytes to the client's standard error (SSH extended data, type 1).
    @discardableResult
    public func writeError(_ bytes: some Collection<UInt8>) -> Bool {
        send(Array(bytes), isError: true)
    }

    /// Sends UTF-8 text to the client's standard error (SSH extended data, type 1).
    @discardableResult
    public func writeError(_ text: String) -> Bool {
        send(Array(text.utf8), isError: true)
    }

    /// Reads the next chunk of standard input.
    ///
    /// Returns nil at end of input (the client sent EOF), an empty array when `timeout`
    /// passed without data, or up to `maxLength` bytes. Without a timeout it waits until data,
    /// EOF or hang-up. Throws `GatewayError` code `channelClosed` if the client hung up.
    public func read(maxLength: Int = 32_768, timeout: Duration? = nil) throws -> [UInt8]? {
        precondition(maxLength > 0, "maxLength must be positive")
        let timeoutMilliseconds =
            timeout.map { Int32(clamping: max(0, milliseconds(of: $0))) } ?? -1
        var buffer = [UInt8](repeating: 0, count: maxLength)
        let count = ssh_channel_read_timeout(
            channel, &buffer, UInt32(maxLength), 0, timeoutMilliseconds)
        if count > 0 { return Array(buffer.prefix(Int(count))) }
        if count == SSH_ERROR { throw GatewayError.channelClosed() }
        if ssh_channel_poll(channel, 0) == SSH_EOF { return nil }
        if isClosed { throw GatewayError.channelClosed() }
        return []
    }

    /// Reads standard input until EOF, as for `ssh host cmd < file`.
    ///
    /// Throws `GatewayError` code `inputTooLarge` once more than `limit` bytes arrive, and
    /// code `channelClosed` if the client hangs up first.
    public func readAll(limit: Int) throws -> [UInt8] {
        var input: [UInt8] = []
        while let chunk = try read(maxLength: 32_768) {
            input += chunk
            if input.count > limit { throw GatewayError.inputTooLarge(limit: limit) }
        }
        return input
    }

    /// Whether the client has closed the channel or the connection has dropped.
    ///
    /// Processes the packets that have already arrived without waiting, so a hang-up during a
    /// long command becomes visible here. EOF on standard input alone is not a hang-up.
    public var isClosed: Bool {
        if writeFailed { return true }
        // Not ssh_channel_poll_timeout: it returns early once the client has sent EOF and then
        // never reads the socket, so a hang-up after `ssh host cmd < file` would go unseen.
        _ = ssh_event_dopoll(event, 0)
        return channelGone
    }

    /// Whether the client closed the channel or the connection, from what libssh has
    /// processed so far; unlike `isClosed`, it reads nothing from the socket.
    var channelGone: Bool {
        state.closedByClient || ssh_channel_is_closed(channel) != 0
            || ssh_get_status(session) & (SSH_CLOSED | SSH_CLOSED_ERROR) != 0
    }

    private func send(_ bytes: [UInt8], isError: Bool) -> Bool {
        guard !writeFailed else { return false }
        let data = pseudoTerminal == nil ? bytes : Self.translateNewlines(bytes)
        var offset = 0
        while offset < data.count {
            let count = data.withUnsafeBytes { buffer in
                let start = buffer.baseAddress! + offset
                let length = UInt32(data.count - offset)
                return isError
                    ? ssh_channel_write_stderr(channel, start, length)
                    : ssh_channel_write(channel, start, length)
            }
            guard count > 0 else {
                writeFailed = true
                return false
            }
            offset += Int(count)
        }
        return true
    }

    private static func translateNewlines(_ bytes: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + bytes.count / 16)
        for byte in bytes {
            if byte == UInt8(ascii: "\n") { result.append(UInt8(ascii: "\r")) }
            result.append(byte)
        }
        return result
    }

    /// Sends EOF, the exit status and a channel close, as OpenSSH's sshd does at the end of
    /// a command. Returns whether the client had already hung up.
    func finish(exitStatus: Int32) -> Bool {
        let hungUp = isClosed
        guard !hungUp else { return true }
        ssh_channel_send_eof(channel)
        if let exitSignal {
            ssh_channel_request_send_exit_signal(
                channel, exitSignal.name, exitSignal.coreDumped ? 1 : 0, exitSignal.message, "")
        } else {
            ssh_channel_request_send_exit_status(channel, exitStatus)
        }
        ssh_channel_close(channel)
        return false
    }
}

/// The signal that killed a command, as an SSH "exit-signal" request carries it.
public struct SSHExitSignal: Sendable, Equatable {
    /// The signal name without "SIG", such as `TERM` (RFC 4254 section 6.10).
    public var name: String
    public var coreDumped: Bool
    public var message: String

    public init(name: String, coreDumped: Bool = false, message: String = "") {
        self.name = name
        self.coreDumped = coreDumped
        self.message = message
    }
}
