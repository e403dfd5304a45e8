import CLibSSH
import Support

// libssh calls these C callbacks on the session thread, with the `SSHSession` as userdata.
// Each one forwards to a method so that the rules read as ordinary Swift.

private func sessionObject(_ userdata: UnsafeMutableRawPointer?) -> SSHSession {
    Unmanaged<SSHSession>.fromOpaque(userdata!).takeUnretainedValue()
}

private func text(_ pointer: UnsafePointer<CChar>?) -> String {
    pointer.map { String(cString: $0) } ?? ""
}

/// The most "env" requests one channel may make.
private let maxEnvironment = 64
/// The most signals kept for a handler that has not taken them yet.
private let maxPendingSignals = 16

extension SSHSession {
    /// Registers the server, channel and message callbacks; must run before the key exchange.
    func installCallbacks() {
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        serverCallbacks.initialize(to: ssh_server_callbacks_struct())
        particle_ssh_init_server_callbacks(serverCallbacks)
        serverCallbacks.pointee.userdata = userdata
        serverCallbacks.pointee.auth_pubkey_function = { _, user, key, state, userdata in
            sessionObject(userdata).authenticate(user: text(user), key: key, signatureState: state)
        }
        serverCallbacks.pointee.channel_open_request_session_function = { _, userdata in
            sessionObject(userdata).openSessionChannel()
        }
        ssh_set_server_callbacks(session, serverCallbacks)

        channelCallbacks.initialize(to: ssh_channel_callbacks_struct())
        particle_ssh_init_channel_callbacks(channelCallbacks)
        channelCallbacks.pointee.userdata = userdata
        channelCallbacks.pointee.channel_pty_request_function = {
            _, channel, term, width, height, _, _, userdata in
            sessionObject(userdata).requestPseudoTerminal(
                channel, term: text(term), columns: width, rows: height)
        }
        channelCallbacks.pointee.channel_pty_window_change_function = {
            _, channel, width, height, _, _, userdata in
            sessionObject(userdata).changeWindow(channel, columns: width, rows: height)
        }
        channelCallbacks.pointee.channel_exec_request_function = { _, channel, command, userdata in
            sessionObject(userdata).record(.exec(text(command)), on: channel)
        }
        channelCallbacks.pointee.channel_shell_request_function = { _, channel, userdata in
            sessionObject(userdata).record(.shell, on: channel)
        }
        channelCallbacks.pointee.channel_subsystem_request_function = {
            _, channel, subsystem, userdata in
            sessionObject(userdata).requestSubsystem(text(subsystem), on: channel)
        }
        channelCallbacks.pointee.channel_env_request_function = {
            _, channel, name, value, userdata in
            sessionObject(userdata).setEnvironment(text(name), text(value), on: channel)
        }
        channelCallbacks.pointee.channel_signal_function = { _, channel, signal, userdata in
            sessionObject(userdata).receiveSignal(text(signal), on: channel)
        }
        channelCallbacks.pointee.channel_close_function = { _, channel, userdata in
            sessionObject(userdata).find(channel)?.closedByClient = true
        }
        channelCallbacks.pointee.channel_auth_agent_req_function = { _, channel, userdata in
            sessionObject(userdata).rejectAgentForwarding(on: channel)
        }

        ssh_set_auth_methods(session, Int32(SSH_AUTH_METHOD_PUBLICKEY))
        ssh_set_message_callback(
            session, { _, message, userdata in sessionObject(userdata).handle(message) }, userdata)
    }

    /// Handles one public-key authentication request and returns an `ssh_auth_e` value.
    ///
    /// An unsigned probe (`SSH_PUBLICKEY_STATE_NONE`) gets "ok" (SSH_MSG_USERAUTH_PK_OK), so
    /// that OpenSSH signs with the key. Only a verified signature (`SSH_PUBLICKEY_STATE_VALID`)
    /// reaches the handler; any other state means the signature did not verify.
    func authenticate(user: String, key: ssh_key?, signatureState: CChar) -> Int32 {
        let denied = Int32(SSH_AUTH_DENIED.rawValue)
        guard identity == nil, closeReason == nil, !rejectBlockedAddress(), let key,
            let info = SSHPublicKeyInfo(key: key)
        else {
            return denied
        }
        switch Int32(signatureState) {
        case SSH_PUBLICKEY_STATE_NONE.rawValue:
            return Int32(SSH_AUTH_SUCCESS.rawValue)
        case SSH_PUBLICKEY_STATE_VALID.rawValue:
            guard let accepted = server.handler.authenticate(info, user: user, peer: peer) else {
                recordAuthFailure(method: "publickey", user: user, fingerprint: info.fingerprint)
                return denied
            }
            identity = accepted
            logger.info(
                "session opened",
                [
                    "fingerprint": info.fingerprint, "account": accepted.accountID,
                    "user": user, "algorithm": info.algorithm,
                ])
            claimKeySession(fingerprint: info.fingerprint)
            return Int32(SSH_AUTH_SUCCESS.rawValue)
        default:
            recordAuthFailure(
                method: "publickey (bad signature)", user: user, fingerprint: info.fingerprint)
            return denied
        }
    }

    /// Counts the connection against its key's limit of concurrent sessions. Past the limit
    /// the connection stays open but serves nothing except the error (`limitRejection`), so
    /// that the client can show why.
    private func claimKeySession(fingerprint: String) {
        let limit = server.configuration.maxSessionsPerKey
        guard !server.connections.claim(key: fingerprint, for: registryID, limit: limit) else {
            return
        }
        limitRejection =
            "too many concurrent sessions for key \(fingerprint): the limit is \(limit); close one"
            + " and retry"
        logger.warning(
            "session limit reached for key",
            ["fingerprint": fingerprint, "limit": String(limit)])
    }

    /// Counts a rejected attempt, for this connection and for its source address, and ends
    /// the connection once either limit is reached.
    func recordAuthFailure(method: String, user: String, fingerprint: String? = nil) {
        authFailures += 1
        var fields = ["method": method, "user": user, "attempts": String(authFailures)]
        fields["fingerprint"] = fingerprint
        logger.info("authentication failed", fields)
        if let wait = server.authFailures.record(host) {
            let seconds = max(1, Int(wait.rounded(.up)))
            logger.warning("too many failed authentications from this address", fields)
            close(
                reason: "too many failed authentications from this address",
                message: "too many failed authentications from \(host); try again in \(seconds) s")
        } else if authFailures >= server.configuration.maxAuthAttempts {
            logger.warning("too many authentication attempts", fields)
            close(
                reason: "too many authentication attempts",
                message: "too many failed authentication attempts on one connection")
        }
    }

    func openSessionChannel() -> ssh_channel? {
        guard identity != nil else { return nil }
        guard channels.count + tunnels.count < server.configuration.maxChannelsPerSession else {
            logger.info(
                "session channel rejected: too many channels",
                ["channels": String(channels.count)])
            return nil
        }
        guard let channel = ssh_channel_new(session) else { return nil }
        ssh_set_channel_callbacks(channel, channelCallbacks)
        channels.append(Channel(channel: channel))
        return channel
    }

    func find(_ channel: ssh_channel?) -> Channel? {
        channels.first { $0.channel == channel }
    }

    /// Records an exec or shell request to run after the reply; returns 0 to accept it.
    func record(_ request: Channel.Request, on channel: ssh_channel?) -> Int32 {
        guard let state = find(channel), state.request == nil else { return 1 }
        state.request = request
        pendingRequests.append(state)
        return 0
    }

    /// Accepts a subsystem request if the handler does, to run it after the reply like exec.
    func requestSubsystem(_ name: String, on channel: ssh_channel?) -> Int32 {
        guard let identity, let state = find(channel), state.request == nil else { return 1 }
        guard server.handler.acceptsSubsystem(name, identity: identity) else {
            logger.info("subsystem rejected", ["subsystem": name])
            return 1
        }
        return record(.subsystem(name), on: channel)
    }

    /// Keeps an "env" request for the handler; at most `maxEnvironment` variables of up to
    /// 4 KiB each, so that a client cannot grow the session without bound.
    func setEnvironment(_ name: String, _ value: String, on channel: ssh_channel?) -> Int32 {
        guard let state = find(channel), state.request == nil,
            state.environment.count < maxEnvironment, name.utf8.count + value.utf8.count <= 4096
        else { return 1 }
        state.environment.append((name, value))
        return 0
    }

    /// Keeps a "signal" request for the handler, which passes it on to a particle.
    /// NOTE: OpenSSH's client never sends these. In a test, libssh 0.10 read a libssh
    /// client's "signal" packet from the socket but ran this callback only seconds later, at
    /// the next read; the cause was not found, so forwarding signals has no test.
    func receiveSignal(_ name: String, on channel: ssh_channel?) {
        guard let state = find(channel), state.pendingSignals.count < maxPendingSignals else {
            return
        }
        state.pendingSignals.append(name)
    }

    /// Records an agent forwarding request, which is never granted. OpenSSH sends it without
    /// asking for a reply, so the handler explains it on stderr.
    func rejectAgentForwarding(on channel: ssh_channel?) {
        logger.info("agent forwarding rejected")
        find(channel)?.agentForwardingRequested = true
    }

    func requestPseudoTerminal(
        _ channel: ssh_channel?, term: String, columns: Int32, rows: Int32
    ) -> Int32 {
        guard let state = find(channel), state.request == nil else { return 1 }
        state.pseudoTerminal = SSHPseudoTerminal(
            term: term, columns: Int(columns), rows: Int(rows))
        return 0
    }

    func changeWindow(_ channel: ssh_channel?, columns: Int32, rows: Int32) -> Int32 {
        guard let state = find(channel), state.pseudoTerminal != nil else { return 1 }
        state.pseudoTerminal?.columns = Int(columns)
        state.pseudoTerminal?.rows = Int(rows)
        return 0
    }
}
