import CLibSSH
import Foundation
import Glibc
import Support

/// One SSH connection, served by its own thread from key exchange to disconnect.
///
/// libssh calls the callbacks in `SSHSession+Callbacks.swift` on this thread, from inside
/// `ssh_handle_key_exchange` and `ssh_event_dopoll`. The callbacks only record requests, and
/// `serve()` runs them after `ssh_event_dopoll` returns. Channel output written from inside a
/// request callback would reach the client before the request's reply.
final class SSHSession: @unchecked Sendable {  // Used only on its session thread once started.
    /// A session channel and the request it carries.
    final class Channel {
        enum Request {
            case exec(String)
            case shell
            case subsystem(String)
        }

        let channel: ssh_channel
        var pseudoTerminal: SSHPseudoTerminal?
        var request: Request?
        var isServed = false
        /// Variables from "env" requests, in the order they arrived.
        var environment: [(name: String, value: String)] = []
        /// Signal names from "signal" requests (`TERM`, `INT`) not yet taken by the handler.
        var pendingSignals: [String] = []
        /// Whether the client asked for agent forwarding ("auth-agent-req@openssh.com").
        var agentForwardingRequested = false
        /// Whether the client sent SSH_MSG_CHANNEL_CLOSE. libssh reports a channel closed
        /// with unread data as open ("delayed close"), so this flag is the reliable sign.
        var closedByClient = false

        init(channel: ssh_channel) {
            self.channel = channel
        }
    }

    let session: ssh_session
    let fd: Int32
    /// The client's address without the port, the key of the per-address limits.
    let host: String
    let peer: String
    let server: SSHServer
    var logger: Logger
    let registryID: Int
    private let openedAt = ContinuousClock.now
    private let keyExchangeDeadline: ContinuousClock.Instant
    private let authDeadline: ContinuousClock.Instant

    var identity: SSHIdentity?
    var authFailures = 0
    /// Set by a callback when the connection must end, with the reason for the log.
    var closeReason: String?
    /// The text for the client's SSH_MSG_DISCONNECT, set with `closeReason`.
    private var disconnectMessage: String?
    /// Whether the key exchange finished, so that packets can be sent.
    private var keysExchanged = false
    /// The limit this authenticated connection is over, in words for the client. Its exec,
    /// shell and subsystem requests get it on stderr with exit status 7, and its tunnels are
    /// rejected.
    var limitRejection: String?
    /// Requests this connection made that the server rejected without telling the client why.
    var rejectedRequests: [SSHRejectedRequest] = []
    var channels: [Channel] = []
    var pendingRequests: [Channel] = []
    /// Accepted `direct-tcpip` channels, relayed in `serve()` between polls.
    var tunnels: [Tunnel] = []

    let serverCallbacks = UnsafeMutablePointer<ssh_server_callbacks_struct>.allocate(capacity: 1)
    let channelCallbacks = UnsafeMutablePointer<ssh_channel_callbacks_struct>.allocate(capacity: 1)

    init(
        session: ssh_session, fd: Int32, registryID: Int, host: String, peer: String,
        server: SSHServer
    ) {
        self.session = session
        self.fd = fd
        self.registryID = registryID
        self.host = host
        self.peer = peer
        self.server = server
        self.logger = server.logger.with(["peer": peer])
        let now = ContinuousClock.now
        self.authDeadline = now + server.configuration.authTimeout
        self.keyExchangeDeadline =
            now + min(server.configuration.keyExchangeTimeout, server.configuration.authTimeout)
    }

    /// Runs the connection to its end, then frees every libssh object it owns.
    func run() {
        logger.debug("connection accepted")
        installCallbacks()
        if exchangeKeys() {
            ssh_set_blocking(session, 1)
            serve()
        }
        finish()
    }

    /// Ends the connection after the current step: `reason` goes to the log, and `message`,
    /// if given, to the client.
    ///
    /// Before authentication the message goes out as a banner (SSH_MSG_USERAUTH_BANNER),
    /// which OpenSSH prints at its default log level, INFO, and above; it is flushed with the
    /// replies. SSH_MSG_DISCONNECT carries it too ("Received disconnect from ...: MESSAGE"),
    /// but libssh 0.10 may drop that packet (see `sendDisconnect`).
    func close(reason: String, message: String? = nil) {
        guard closeReason == nil else { return }
        closeReason = reason
        disconnectMessage = message
        guard let message else { return }
        ssh_session_set_disconnect_message(session, message)
        if keysExchanged && identity == nil, let banner = ssh_string_from_char(message + "\n") {
            ssh_send_issue_banner(session, banner)
            ssh_string_free(banner)
        }
    }

    /// Sends SSH_MSG_DISCONNECT, with the message set by `close`, and closes the socket.
    ///
    /// libssh 0.10's ssh_disconnect queues the packet and closes the socket at once. The
    /// packet goes out only if libssh has seen the socket writable (POLLOUT) since its last
    /// write, which each write resets. So the message first goes out as SSH_MSG_DEBUG
    /// (OpenSSH shows it with `-v` as "Remote: ..."), and one poll with nothing queued then
    /// records the socket as writable. Not guarded by ssh_is_connected, which libssh 0.10
    /// leaves 0 on server sessions before authentication.
    private func sendDisconnect() {
        ssh_set_blocking(session, 1)
        if keysExchanged, let disconnectMessage, let event = ssh_event_new() {
            ssh_send_debug(session, disconnectMessage, 1)
            ssh_blocking_flush(session, 1000)
            discardInput()
            ssh_event_add_session(event, session)
            _ = ssh_event_dopoll(event, 100)
            ssh_event_remove_session(event, session)
            ssh_event_free(event)
        }
        ssh_disconnect(session)
    }

    /// Reads and drops what the client sent and libssh has not read, until it has been quiet
    /// for 50 ms (200 ms at most). Closing a socket with unread input makes the kernel send
    /// a reset, and a client that receives it may drop the disconnect packet unread.
    private func discardInput() {
        let deadline = ContinuousClock.now + .milliseconds(200)
        var buffer = [UInt8](repeating: 0, count: 4096)
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while ContinuousClock.now < deadline, poll(&descriptor, 1, 50) > 0 {
            guard recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT)) > 0 else { return }
        }
    }

    /// Ends the connection at its first authentication request if its address is over the
    /// limit of failed authentications; returns whether it did.
    ///
    /// The check waits for that request, rather than running right after the key exchange,
    /// because libssh 0.10 loses a disconnect message sent before the client's service
    /// request has been read (measured with OpenSSH 9.2: the client saw only the close).
    func rejectBlockedAddress() -> Bool {
        guard let wait = server.authFailures.blockedFor(host) else { return false }
        let seconds = max(1, Int(wait.rounded(.up)))
        logger.warning(
            "connection rejected: too many failed authentications from this address",
            ["retry_after_seconds": String(seconds)])
        close(
            reason: "too many failed authentications from this address",
            message: "too many failed authentications from \(host); try again in \(seconds) s")
        return true
    }

    private func finish() {
        var fields = ["ms": String(milliseconds(since: openedAt))]
        if let closeReason { fields["reason"] = closeReason }
        if let identity {
            fields["fingerprint"] = identity.keyFingerprint
            fields["account"] = identity.accountID
            logger.info("session closed", fields)
        } else {
            logger.info("connection closed before authentication", fields)
        }

        for tunnel in tunnels {
            closeTunnel(tunnel, event: nil)
        }
        tunnels = []
        for channel in channels {
            ssh_remove_channel_callbacks(channel.channel, channelCallbacks)
            ssh_channel_free(channel.channel)
        }
        channels = []
        sendDisconnect()
        // Unregister before ssh_free closes the socket, so that a concurrent shutdown never
        // calls shutdown(2) on a reused descriptor number.
        server.connections.unregister(registryID)
        ssh_free(session)
        serverCallbacks.deallocate()
        channelCallbacks.deallocate()
    }

    /// Runs the key exchange in non-blocking mode, waiting in poll(2) between steps.
    ///
    /// OpenSSH clients leave Nagle's algorithm on, so a client's second small packet waits
    /// for the ACK of its first. With the kernel's delayed ACK that costs 40 ms per round
    /// trip. Re-arming TCP_QUICKACK before each wait (the kernel clears it) avoids the stall.
    private func exchangeKeys() -> Bool {
        ssh_set_blocking(session, 0)
        while true {
            let status = ssh_handle_key_exchange(session)
            if status == SSH_OK {
                keysExchanged = true
                return true
            }
            guard status == SSH_AGAIN else {
                logger.info("key exchange failed", ["error": libsshError(session)])
                return false
            }
            guard waitForSocket(until: keyExchangeDeadline) else {
                closeReason = "key exchange timed out"
                logger.warning(
                    "key exchange timed out",
                    ["timeout_ms": String(milliseconds(of: server.configuration.keyExchangeTimeout))])
                return false
            }
        }
    }

    private func waitForSocket(until deadline: ContinuousClock.Instant) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if ssh_get_poll_flags(session) & SSH_WRITE_PENDING != 0 {
            descriptor.events |= Int16(POLLOUT)
        }
        while true {
            let remaining = milliseconds(until: deadline)
            guard remaining > 0 else { return false }
            armQuickAck()
            let ready = poll(&descriptor, 1, Int32(clamping: remaining))
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return false }
        }
    }

    func armQuickAck() {
        var enabled: Int32 = 1
        setsockopt(
            fd, Int32(IPPROTO_TCP), TCP_QUICKACK, &enabled, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Polls the connection, relays the tunnels and runs each recorded exec or shell request
    /// in turn.
    ///
    /// NOTE: an exec or shell request runs to its end before the loop continues, so the
    /// tunnels of the same connection stall while it runs (their bytes wait in libssh, bounded
    /// by the channel windows).
    private func serve() {
        guard let event = ssh_event_new() else { return }
        ssh_event_add_session(event, session)
        defer {
            for tunnel in tunnels where tunnel.registeredEvents != 0 {
                ssh_event_remove_fd(event, tunnel.endpoint.socket)
                tunnel.registeredEvents = 0
            }
            ssh_event_remove_session(event, session)
            ssh_event_free(event)
        }
        while closeReason == nil {
            if !pendingRequests.isEmpty {
                run(pendingRequests.removeFirst(), event: event)
                continue
            }
            relayTunnels(event: event)
            let timeout: Int
            if identity == nil {
                timeout = milliseconds(until: authDeadline)
                guard timeout > 0 else {
                    let seconds = server.configuration.authTimeout.components.seconds
                    logger.warning("authentication timed out")
                    close(
                        reason: "authentication timed out",
                        message: "authentication timed out after \(seconds) s")
                    break
                }
            } else {
                // Bounded so that a connection dropped by the kernel is noticed.
                timeout = 1000
            }
            armQuickAck()
            let status = ssh_event_dopoll(event, Int32(clamping: timeout))
            if status == SSH_ERROR || ssh_get_status(session) & (SSH_CLOSED | SSH_CLOSED_ERROR) != 0
            {
                break
            }
            freeClosedChannels()
        }
    }

    private func run(_ channel: Channel, event: ssh_event) {
        guard let identity, let request = channel.request else { return }
        channel.isServed = true
        let io = SSHCommandIO(
            session: session, event: event, channel: channel, rejectedRequests: rejectedRequests)
        let started = ContinuousClock.now
        let status: Int32
        let name: String
        switch request {
        case .exec(let command):
            // Only the start of the first word: arguments, or a mistyped command, may carry names,
            // addresses or pasted secrets not meant for logs.
            name = String((command.split(separator: " ").first ?? "").prefix(24))
        case .shell:
            name = "shell"
        case .subsystem(let subsystem):
            name = "subsystem " + subsystem.prefix(24)
        }
        if let limitRejection {
            io.writeError("error: \(limitRejection)\n")
            status = CommandExitStatus.rateLimited.rawValue
        } else {
            switch request {
            case .exec(let command):
                status = server.handler.exec(command, identity: identity, io: io)
            case .shell:
                status = server.handler.shell(identity: identity, io: io)
            case .subsystem(let subsystem):
                status = server.handler.subsystem(subsystem, identity: identity, io: io)
            }
        }
        let clientHungUp = io.finish(exitStatus: status)
        logger.info(
            "request finished",
            [
                "request": name, "status": String(status), "fingerprint": identity.keyFingerprint,
                "ms": String(milliseconds(since: started)), "hangup": String(clientHungUp),
            ])
        release(channel)
    }

    private func freeClosedChannels() {
        for channel in channels
        where !channel.isServed
            && (channel.closedByClient || ssh_channel_is_closed(channel.channel) != 0)
        {
            release(channel)
        }
    }

    /// Forgets a channel and frees it. libssh keeps the channel until the client's close
    /// arrives, and removing the callbacks first keeps late packets away from this object.
    private func release(_ channel: Channel) {
        channels.removeAll { $0 === channel }
        pendingRequests.removeAll { $0 === channel }
        ssh_remove_channel_callbacks(channel.channel, channelCallbacks)
        ssh_channel_free(channel.channel)
    }
}

func milliseconds(since start: ContinuousClock.Instant) -> Int {
    milliseconds(of: ContinuousClock.now - start)
}

func milliseconds(until deadline: ContinuousClock.Instant) -> Int {
    milliseconds(of: deadline - ContinuousClock.now)
}

func milliseconds(of duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
}
