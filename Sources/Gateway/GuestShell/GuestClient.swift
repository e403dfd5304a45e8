import CLibSSH
import Glibc

/// A libssh client session to a guest's sshd over a socket that the caller connected and
/// closes, for relaying one shell, command or subsystem.
///
/// Every step before the relay is bounded by one deadline. Use it on one thread only.
final class GuestClient {
    /// What to start in the guest's session channel.
    enum Request {
        case shell
        case exec(String)
        case subsystem(String)
    }

    let session: ssh_session
    private let expectedHostKey: ssh_key
    private let deadline: ContinuousClock.Instant
    private var connected = false

    /// Prepares a session over `socket` that accepts only `hostKey` (an OpenSSH public key
    /// line) from the guest, and gives up at `deadline`.
    init(socket: Int32, user: String, hostKey: String, deadline: ContinuousClock.Instant) throws {
        let fields = hostKey.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var key: ssh_key?
        guard fields.count >= 2, ssh_key_type_from_name(fields[0]) != SSH_KEYTYPE_UNKNOWN,
            ssh_pki_import_pubkey_base64(fields[1], ssh_key_type_from_name(fields[0]), &key)
                == SSH_OK,
            let key
        else {
            throw GuestClientError("the particle's recorded host key cannot be read")
        }
        guard let session = ssh_new() else {
            ssh_key_free(key)
            throw GuestClientError("ssh_new failed")
        }
        self.session = session
        self.expectedHostKey = key
        self.deadline = deadline

        var descriptor = socket
        var processConfig = false
        ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &processConfig)
        ssh_options_set(session, SSH_OPTIONS_FD, &descriptor)
        ssh_options_set(session, SSH_OPTIONS_HOST, "guest")
        ssh_options_set(session, SSH_OPTIONS_USER, user)
        // Offer only the recorded key's algorithm, so that the guest presents that key.
        let algorithms = fields[0] == "ssh-rsa" ? "rsa-sha2-512,rsa-sha2-256" : fields[0]
        ssh_options_set(session, SSH_OPTIONS_HOSTKEYS, algorithms)
        ssh_set_blocking(session, 0)
    }

    /// Disconnects and frees the session. libssh 0.10 leaves a socket given through
    /// SSH_OPTIONS_FD open, so the caller still closes it.
    func close() {
        if connected { ssh_disconnect(session) }
        ssh_free(session)
        ssh_key_free(expectedHostKey)
    }

    /// Runs the handshake, checks the guest's host key and logs in with `privateKey`.
    func logIn(privateKey: String) throws {
        connected = true
        try retry("handshake") { ssh_connect(session) }

        var serverKey: ssh_key?
        guard ssh_get_server_publickey(session, &serverKey) == SSH_OK, let serverKey else {
            throw GuestClientError("the guest sent no host key", cause: lastError)
        }
        defer { ssh_key_free(serverKey) }
        guard ssh_key_cmp(serverKey, expectedHostKey, SSH_KEY_CMP_PUBLIC) == 0 else {
            throw GuestClientError("the guest's host key does not match the one Particle made")
        }

        var key: ssh_key?
        guard ssh_pki_import_privkey_base64(privateKey, nil, nil, nil, &key) == SSH_OK, let key
        else { throw GuestClientError("the platform key cannot be read") }
        defer { ssh_key_free(key) }
        while true {
            let status = ssh_userauth_publickey(session, nil, key)
            if status == SSH_AUTH_SUCCESS.rawValue { return }
            guard status == SSH_AUTH_AGAIN.rawValue else {
                throw GuestClientError("the guest rejected the platform key", cause: lastError)
            }
            try waitForSocket("authentication")
        }
    }

    /// Opens a session channel and starts `request` in it, after a terminal and environment
    /// variables if given. The guest's sshd may reject variables (its `AcceptEnv`); those
    /// are dropped.
    func start(
        _ request: Request, terminal: SSHPseudoTerminal?,
        environment: [(name: String, value: String)]
    ) throws -> ssh_channel {
        guard let channel = ssh_channel_new(session) else {
            throw GuestClientError("cannot create a channel", cause: lastError)
        }
        // On a throw below, ssh_free in close() frees the channel.
        try retry("channel open") { ssh_channel_open_session(channel) }
        if let terminal {
            try retry("terminal request") {
                ssh_channel_request_pty_size(
                    channel, terminal.term, Int32(terminal.columns), Int32(terminal.rows))
            }
        }
        for variable in environment {
            try? retry("environment request") {
                ssh_channel_request_env(channel, variable.name, variable.value)
            }
        }
        switch request {
        case .shell:
            try retry("shell request") { ssh_channel_request_shell(channel) }
        case .exec(let command):
            try retry("exec request") { ssh_channel_request_exec(channel, command) }
        case .subsystem(let name):
            try retry("subsystem request") { ssh_channel_request_subsystem(channel, name) }
        }
        ssh_set_blocking(session, 1)
        return channel
    }

    var lastError: String {
        String(cString: ssh_get_error(UnsafeMutableRawPointer(session)))
    }

    private func retry(_ step: String, _ call: () -> Int32) throws {
        while true {
            let status = call()
            if status == SSH_OK { return }
            guard status == SSH_AGAIN else {
                throw GuestClientError("guest SSH \(step) failed", cause: lastError)
            }
            try waitForSocket(step)
        }
    }

    /// Waits in poll(2) until the socket is ready for what libssh waits for, or the deadline.
    private func waitForSocket(_ step: String) throws {
        var descriptor = pollfd(fd: ssh_get_fd(session), events: Int16(POLLIN), revents: 0)
        if ssh_get_poll_flags(session) & SSH_WRITE_PENDING != 0 {
            descriptor.events |= Int16(POLLOUT)
        }
        while true {
            let remaining = milliseconds(until: deadline)
            guard remaining > 0 else {
                throw GuestClientError("guest SSH \(step) timed out")
            }
            let ready = poll(&descriptor, 1, Int32(clamping: remaining))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR {
                throw GuestClientError(
                    "waiting for the guest failed", cause: String(cString: strerror(errno)))
            }
        }
    }
}

/// A failed login to a guest, in words for the log; `cause` holds libssh's error text.
struct GuestClientError: Error, CustomStringConvertible {
    let message: String
    let cause: String?

    init(_ message: String, cause: String? = nil) {
        self.message = message
        self.cause = cause
    }

    var description: String {
        guard let cause, !cause.isEmpty else { return message }
        return "\(message) (cause: \(cause))"
    }
}
