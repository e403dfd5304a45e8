import CLibSSH
import Glibc

/// The largest chunk relayed in one step, in bytes: OpenSSH's default maximum packet size.
private let relayChunkSize = 32_768

extension SSHSession {
    /// A `direct-tcpip` channel and the socket it is relayed to.
    ///
    /// Each direction stops reading while the other end cannot take more. Bytes from the
    /// client wait in `toSocket` until the socket accepts them, and the channel is not read
    /// meanwhile. Bytes from the socket are read only up to the client's window, so
    /// `ssh_channel_write` never waits for a window adjust.
    /// NOTE: the bound toward the guest relies on libssh growing the client's window only as
    /// buffered channel bytes are read; no test measures libssh's buffer.
    final class Tunnel {
        let channel: ssh_channel
        let endpoint: SSHTunnelEndpoint
        let destination: String
        let openedAt = ContinuousClock.now
        /// Bytes read from the channel that the socket has not accepted yet.
        var toSocket: [UInt8] = []
        /// The socket reached end of file, and the channel's EOF was sent.
        var socketReadClosed = false
        /// The client sent EOF and every byte before it reached the socket, which was shut down
        /// for writing.
        var socketWriteClosed = false
        /// The error that stopped the relay early, for the log.
        var failure: String?
        /// The poll(2) events the socket is registered for in the session's `ssh_event`.
        var registeredEvents: Int16 = 0
        var bytesToGuest = 0
        var bytesToClient = 0

        init(channel: ssh_channel, endpoint: SSHTunnelEndpoint, destination: String) {
            self.channel = channel
            self.endpoint = endpoint
            self.destination = destination
        }

        var isFinished: Bool {
            failure != nil || (socketReadClosed && socketWriteClosed)
                || ssh_channel_is_closed(channel) != 0
        }
    }

    /// Accepts a `direct-tcpip` channel open if the handler connects its target; returns the
    /// value for the message callback.
    func openTunnel(_ message: ssh_message, host: String, port: Int) -> Int32 {
        var fields = ["destination": formatAddress(host, port)]
        guard let identity else {
            logger.info(
                "direct-tcpip channel rejected",
                fields.merging(["reason": "not authenticated"]) { a, _ in a })
            return 1
        }
        fields["fingerprint"] = identity.keyFingerprint
        fields["account"] = identity.accountID
        if let limitRejection {
            logger.info(
                "direct-tcpip channel rejected",
                fields.merging(["reason": limitRejection]) { a, _ in a })
            return 1
        }
        guard channels.count + tunnels.count < server.configuration.maxChannelsPerSession else {
            logger.info(
                "direct-tcpip channel rejected",
                fields.merging(["reason": "too many channels"]) { a, _ in a })
            return 1
        }

        let endpoint: SSHTunnelEndpoint
        switch server.handler.openTunnel(host: host, port: port, identity: identity) {
        case .failure(let rejection):
            logger.info(
                "direct-tcpip channel rejected",
                fields.merging(["reason": rejection.message]) { a, _ in a })
            return 1
        case .success(let opened):
            endpoint = opened
        }
        guard let channel = ssh_message_channel_request_open_reply_accept(message) else {
            logger.warning(
                "direct-tcpip channel accept failed",
                fields.merging(["error": libsshError(session)]) { a, _ in a })
            endpoint.close()
            return 1
        }
        let flags = fcntl(endpoint.socket, F_GETFL)
        _ = fcntl(endpoint.socket, F_SETFL, flags | O_NONBLOCK)
        tunnels.append(
            Tunnel(channel: channel, endpoint: endpoint, destination: fields["destination"]!))
        logger.info("tunnel opened", fields)
        return 0
    }

    /// Moves bytes on every tunnel until none can move without waiting, frees finished
    /// tunnels, and registers each socket in `event` for the poll(2) events it now waits for.
    func relayTunnels(event: ssh_event) {
        var buffer = [UInt8](repeating: 0, count: relayChunkSize)
        var moved = true
        while moved {
            moved = false
            for tunnel in tunnels where !tunnel.isFinished {
                if relay(tunnel, buffer: &buffer) { moved = true }
            }
        }
        for tunnel in tunnels where tunnel.isFinished {
            closeTunnel(tunnel, event: event)
        }
        tunnels.removeAll { $0.isFinished }
        for tunnel in tunnels {
            register(tunnel, event: event)
        }
    }

    /// Runs one step of each direction; returns whether any byte or EOF moved.
    private func relay(_ tunnel: Tunnel, buffer: inout [UInt8]) -> Bool {
        let towardGuest = relayTowardGuest(tunnel, buffer: &buffer)
        guard tunnel.failure == nil else { return true }
        let towardClient = relayTowardClient(tunnel, buffer: &buffer)
        return towardGuest || towardClient
    }

    private func relayTowardGuest(_ tunnel: Tunnel, buffer: inout [UInt8]) -> Bool {
        guard !tunnel.socketWriteClosed else { return false }
        var moved = false
        if tunnel.toSocket.isEmpty {
            let count = ssh_channel_read_nonblocking(
                tunnel.channel, &buffer, UInt32(buffer.count), 0)
            if count > 0 {
                tunnel.toSocket = Array(buffer.prefix(Int(count)))
                moved = true
            } else if count == SSH_EOF || ssh_channel_is_eof(tunnel.channel) != 0 {
                shutdown(tunnel.endpoint.socket, Int32(SHUT_WR))
                tunnel.socketWriteClosed = true
                return true
            } else if count == SSH_ERROR {
                tunnel.failure = "channel read failed: \(libsshError(session))"
                return true
            }
        }
        guard !tunnel.toSocket.isEmpty else { return moved }

        let sent = tunnel.toSocket.withUnsafeBytes {
            send(
                tunnel.endpoint.socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)
            )
        }
        if sent > 0 {
            tunnel.toSocket.removeFirst(sent)
            tunnel.bytesToGuest += sent
            return true
        }
        if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
            tunnel.failure = "send to guest failed: \(String(cString: strerror(errno)))"
            return true
        }
        return moved
    }

    private func relayTowardClient(_ tunnel: Tunnel, buffer: inout [UInt8]) -> Bool {
        guard !tunnel.socketReadClosed else { return false }
        let window = Int(ssh_channel_window_size(tunnel.channel))
        guard window > 0 else { return false }

        let received = recv(
            tunnel.endpoint.socket, &buffer, min(window, buffer.count), Int32(MSG_DONTWAIT))
        if received > 0 {
            let written = ssh_channel_write(tunnel.channel, buffer, UInt32(received))
            guard Int(written) == received else {
                tunnel.failure = "channel write failed: \(libsshError(session))"
                return true
            }
            tunnel.bytesToClient += received
            return true
        }
        if received == 0 {
            ssh_channel_send_eof(tunnel.channel)
            tunnel.socketReadClosed = true
            return true
        }
        if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
            tunnel.failure = "receive from guest failed: \(String(cString: strerror(errno)))"
            return true
        }
        return false
    }

    /// Registers the socket for reading while the client's window is open and the guest has
    /// not sent EOF, and for writing while bytes wait for it. A socket registered for nothing
    /// is removed, so that a socket at EOF, which is always readable, never spins the poll.
    private func register(_ tunnel: Tunnel, event: ssh_event) {
        var events: Int16 = 0
        if !tunnel.socketReadClosed && ssh_channel_window_size(tunnel.channel) > 0 {
            events |= Int16(POLLIN)
        }
        if !tunnel.toSocket.isEmpty { events |= Int16(POLLOUT) }
        guard events != tunnel.registeredEvents else { return }

        if tunnel.registeredEvents != 0 { ssh_event_remove_fd(event, tunnel.endpoint.socket) }
        if events != 0 {
            // The callback only ends the wait; relayTunnels moves the bytes afterwards.
            ssh_event_add_fd(event, tunnel.endpoint.socket, events, { _, _, _ in 0 }, nil)
        }
        tunnel.registeredEvents = events
    }

    /// Closes the channel and the socket of a finished tunnel, or of every tunnel when the
    /// session ends (`event` nil once the event loop is gone).
    func closeTunnel(_ tunnel: Tunnel, event: ssh_event?) {
        if let event, tunnel.registeredEvents != 0 {
            ssh_event_remove_fd(event, tunnel.endpoint.socket)
            tunnel.registeredEvents = 0
        }
        var fields = [
            "destination": tunnel.destination, "ms": String(milliseconds(since: tunnel.openedAt)),
            "bytes_to_guest": String(tunnel.bytesToGuest),
            "bytes_to_client": String(tunnel.bytesToClient),
        ]
        fields["error"] = tunnel.failure
        if tunnel.failure != nil {
            logger.warning("tunnel failed", fields)
        } else {
            logger.info("tunnel closed", fields)
        }
        tunnel.endpoint.close()
        if ssh_channel_is_closed(tunnel.channel) == 0 {
            ssh_channel_close(tunnel.channel)
        }
        // libssh keeps a channel freed before the client's close until that close arrives.
        ssh_channel_free(tunnel.channel)
    }
}
