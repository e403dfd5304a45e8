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
            _, _, subsystem, userdata in
            sessionObject(userdata).logger.info(
                "subsystem rejected", ["subsystem": text(subsystem)])
            return 1
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
        guard identity == nil, closeReason == nil, let key, let info = SSHPublicKeyInfo(key: key)
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
            return Int32(SSH_AUTH_SUCCESS.rawValue)
        default:
            recordAuthFailure(
                method: "publickey (bad signature)", user: user, fingerprint: info.fingerprint)
            return denied
        }
    }

    /// Counts a rejected attempt and ends the connection once the limit is reached.
    func recordAuthFailure(method: String, user: String, fingerprint: String? = nil) {
        authFailures += 1
        var fields = ["method": method, "user": user, "attempts": String(authFailures)]
        fields["fingerprint"] = fingerprint
        logger.info("authentication failed", fields)
        if authFailures >= server.configuration.maxAuthAttempts {
            closeReason = "too many authentication attempts"
            logger.warning("too many authentication attempts", fields)
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

    private func find(_ channel: ssh_channel?) -> Channel? {
        channels.first { $0.channel == channel }
    }

    /// Records an exec or shell request to run after the reply; returns 0 to accept it.
    func record(_ request: Channel.Request, on channel: ssh_channel?) -> Int32 {
        guard let state = find(channel), state.request == nil else { return 1 }
        state.request = request
        pendingRequests.append(state)
        return 0
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
