import CLibSSH

/// Reply to a libssh message callback: libssh sends the default reply (a rejection) for
/// `defaultReply`, and 0 means the callback replied itself.
private let defaultReply: Int32 = 1

extension SSHSession {
    /// Handles every message that no server or channel callback took, and returns whether
    /// libssh should send its default reply.
    ///
    /// libssh's default replies are rejections: SSH_MSG_USERAUTH_FAILURE listing only
    /// "publickey", SSH_MSG_CHANNEL_OPEN_FAILURE "administratively prohibited", and
    /// SSH_MSG_REQUEST_FAILURE or SSH_MSG_CHANNEL_FAILURE when the client wants a reply.
    /// NOTE: libssh 0.10 sends an empty description in SSH_MSG_CHANNEL_OPEN_FAILURE and has no
    /// call to set one, so the reason for a rejected channel appears only in this log.
    func handle(_ message: ssh_message?) -> Int32 {
        guard let message else { return defaultReply }
        let subtype = ssh_message_subtype(message)
        switch UInt32(ssh_message_type(message)) {
        case SSH_REQUEST_AUTH.rawValue:
            rejectAuthentication(message, method: subtype)
        case SSH_REQUEST_CHANNEL_OPEN.rawValue:
            return handleChannelOpen(message, type: subtype)
        case SSH_REQUEST_CHANNEL.rawValue:
            logChannelRequest(type: subtype)
        case SSH_REQUEST_GLOBAL.rawValue:
            logGlobalRequest(message, type: subtype)
        default:
            // SSH_REQUEST_SERVICE: the default reply accepts "ssh-userauth" and
            // "ssh-connection", the only services a client asks for.
            break
        }
        return defaultReply
    }

    private func rejectAuthentication(_ message: ssh_message, method: Int32) {
        guard !rejectBlockedAddress() else { return }
        let user = ssh_message_auth_user(message).map { String(cString: $0) } ?? ""
        switch UInt32(method) {
        case SSH_AUTH_METHOD_NONE:
            // OpenSSH starts with "none" to learn the allowed methods; not an attempt.
            break
        case SSH_AUTH_METHOD_PASSWORD:
            recordAuthFailure(method: "password", user: user)
        case SSH_AUTH_METHOD_INTERACTIVE:
            recordAuthFailure(method: "keyboard-interactive", user: user)
        case SSH_AUTH_METHOD_HOSTBASED:
            recordAuthFailure(method: "hostbased", user: user)
        case SSH_AUTH_METHOD_GSSAPI_MIC:
            recordAuthFailure(method: "gssapi-with-mic", user: user)
        default:
            recordAuthFailure(method: "unknown", user: user)
        }
    }

    /// Rejects every channel type except "session", which `openSessionChannel()` accepts.
    private func handleChannelOpen(_ message: ssh_message, type: Int32) -> Int32 {
        switch UInt32(type) {
        case SSH_CHANNEL_DIRECT_TCPIP.rawValue:
            return openDirectTCPIP(message)
        case SSH_CHANNEL_FORWARDED_TCPIP.rawValue:
            logger.info("channel rejected", ["type": "forwarded-tcpip"])
        case SSH_CHANNEL_X11.rawValue:
            logger.info("channel rejected", ["type": "x11"])
        case SSH_CHANNEL_AUTH_AGENT.rawValue:
            logger.info("channel rejected", ["type": "auth-agent"])
        case SSH_CHANNEL_SESSION.rawValue:
            // Reached only when openSessionChannel() returned nil (not authenticated yet, or
            // the per-session channel limit).
            logger.info("channel rejected", ["type": "session"])
        default:
            logger.info("channel rejected", ["type": "unknown"])
        }
        return defaultReply
    }

    /// Handles `ssh -W host:port` and `ssh -J`: a direct-tcpip channel open.
    ///
    /// libssh 0.10 has no server callback for direct-tcpip, so it arrives here as a message.
    /// The handler decides on the target and connects it before the reply, which blocks this
    /// session (only) for up to the guest connect timeout.
    private func openDirectTCPIP(_ message: ssh_message) -> Int32 {
        let destination =
            ssh_message_channel_request_open_destination(message)
            .map { String(cString: $0) } ?? ""
        let port = Int(ssh_message_channel_request_open_destination_port(message))
        return openTunnel(message, host: destination, port: port)
    }

    private func logChannelRequest(type: Int32) {
        let names: [UInt32: String] = [
            SSH_CHANNEL_REQUEST_ENV.rawValue: "env",
            SSH_CHANNEL_REQUEST_X11.rawValue: "x11-req",
            SSH_CHANNEL_REQUEST_WINDOW_CHANGE.rawValue: "window-change",
        ]
        let name = names[UInt32(type)] ?? "other"
        // libssh passes window-change here even after its callback ran; it needs no reply.
        guard name != "window-change" else { return }
        if name == "x11-req" {
            logger.info("channel request rejected", ["request": name])
            noteRejected(.x11Forwarding)
        } else {
            logger.debug("channel request rejected", ["request": name])
        }
    }

    private func logGlobalRequest(_ message: ssh_message, type: Int32) {
        switch UInt32(type) {
        case SSH_GLOBAL_REQUEST_TCPIP_FORWARD.rawValue:
            let address =
                ssh_message_global_request_address(message)
                .map { String(cString: $0) } ?? ""
            let port = Int(ssh_message_global_request_port(message))
            let listenAddress = formatAddress(address, port)
            logger.info(
                "global request rejected",
                ["request": "tcpip-forward", "address": listenAddress])
            noteRejected(.remoteForwarding(address: listenAddress))
        case SSH_GLOBAL_REQUEST_KEEPALIVE.rawValue:
            break
        default:
            logger.debug("global request rejected", ["type": String(type)])
        }
    }

    /// Keeps a rejection for the handler to explain, once per kind and address.
    func noteRejected(_ request: SSHRejectedRequest) {
        guard !rejectedRequests.contains(request), rejectedRequests.count < 16 else { return }
        rejectedRequests.append(request)
    }
}
