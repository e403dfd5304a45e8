import CLibSSH
import Glibc

/// The outcome of a command run in a guest.
public struct GuestExecResult: Sendable {
    /// The command's exit status, or 128 plus the signal number if a signal killed it.
    public var exitCode: Int32
    /// Standard output and standard error interleaved in the order they arrived.
    public var output: [UInt8]

    public init(exitCode: Int32, output: [UInt8]) {
        self.exitCode = exitCode
        self.output = output
    }
}

/// An SSH client (libssh) that runs one command in a guest over a socket the caller connected.
public enum GuestSSH {
    /// Runs `command` as `user` over the connected TCP socket `fd` and returns its exit status
    /// and output.
    ///
    /// Takes ownership of `fd` and closes it before returning or throwing. The guest's host
    /// key must equal `expectedHostKey`, an OpenSSH public key line; it is checked before
    /// authenticating with `privateKey` (OpenSSH private key text). `timeout` bounds the
    /// handshake, authentication and the exec request; the command itself may run for as long
    /// as it needs. `onOutput` receives each chunk as it arrives, with `isError` set for
    /// standard error. Blocks the calling thread: call it from a dedicated thread.
    public static func exec(
        fd: Int32, user: String, privateKey: String, expectedHostKey: String, command: String,
        timeout: Duration, onOutput: ((_ bytes: [UInt8], _ isError: Bool) -> Void)?
    ) throws -> GuestExecResult {
        initializeLibSSH()
        let connection: GuestConnection
        do {
            connection = try GuestConnection(fd: fd, user: user, expectedHostKey: expectedHostKey)
        } catch {
            close(fd)
            throw error
        }
        defer { connection.close() }

        let deadline = ContinuousClock.now + timeout
        try connection.connect(deadline: deadline, timeout: timeout)
        try connection.verifyHostKey()
        let key = try importPrivateKey(privateKey)
        defer { ssh_key_free(key) }
        try connection.authenticate(with: key, deadline: deadline, timeout: timeout)
        let channel = try connection.startCommand(command, deadline: deadline, timeout: timeout)
        defer { channel.free() }
        return try channel.collectOutput(onOutput: onOutput)
    }

    private static let libsshInitialized: Bool = {
        // A guest that drops the connection must fail the call, not kill the daemon.
        signal(SIGPIPE, SIG_IGN)
        return ssh_init() == SSH_OK
    }()

    private static func initializeLibSSH() {
        _ = libsshInitialized
    }
}

/// One libssh client session over a caller's socket, freed by `close()`.
final class GuestConnection {
    let session: ssh_session
    private let fd: Int32
    private let user: String
    private let expectedHostKey: ssh_key
    /// Whether the first `ssh_connect` call ran, so that there is a session to disconnect.
    private var libsshOwnsSocket = false

    init(fd: Int32, user: String, expectedHostKey line: String) throws {
        let (key, algorithms) = try GuestSSH.importPublicKey(line: line)
        guard let session = ssh_new() else {
            ssh_key_free(key)
            throw GuestSSHError.connectFailed(cause: "ssh_new failed")
        }
        self.session = session
        self.fd = fd
        self.user = user
        self.expectedHostKey = key

        var socket = fd
        var processConfig = false
        ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &processConfig)
        ssh_options_set(session, SSH_OPTIONS_FD, &socket)
        ssh_options_set(session, SSH_OPTIONS_HOST, "guest")
        ssh_options_set(session, SSH_OPTIONS_USER, user)
        // Offer only the recorded key's algorithm, so that the guest presents that key.
        ssh_options_set(session, SSH_OPTIONS_HOSTKEYS, algorithms)
        ssh_set_blocking(session, 0)
    }

    func close() {
        if libsshOwnsSocket {
            ssh_disconnect(session)
        }
        ssh_free(session)
        // libssh 0.10 never closes a socket given through SSH_OPTIONS_FD (measured: each exec
        // left its connection open), so the descriptor is closed here in every case.
        Glibc.close(fd)
        ssh_key_free(expectedHostKey)
    }

    func connect(deadline: ContinuousClock.Instant, timeout: Duration) throws {
        libsshOwnsSocket = true
        while true {
            let status = ssh_connect(session)
            if status == SSH_OK { return }
            guard status == SSH_AGAIN else {
                throw GuestSSHError.connectFailed(cause: lastError())
            }
            try wait(until: deadline, step: "handshake", timeout: timeout)
        }
    }

    func verifyHostKey() throws {
        var serverKey: ssh_key?
        guard ssh_get_server_publickey(session, &serverKey) == SSH_OK, let serverKey else {
            throw GuestSSHError.connectFailed(cause: lastError())
        }
        defer { ssh_key_free(serverKey) }
        guard ssh_key_cmp(serverKey, expectedHostKey, SSH_KEY_CMP_PUBLIC) == 0 else {
            throw GuestSSHError.hostKeyMismatch(
                expected: GuestSSH.fingerprint(of: expectedHostKey),
                actual: GuestSSH.fingerprint(of: serverKey))
        }
    }

    func authenticate(with key: ssh_key, deadline: ContinuousClock.Instant, timeout: Duration)
        throws
    {
        while true {
            let status = ssh_userauth_publickey(session, nil, key)
            switch status {
            case SSH_AUTH_SUCCESS.rawValue:
                return
            case SSH_AUTH_AGAIN.rawValue:
                try wait(until: deadline, step: "authentication", timeout: timeout)
            case SSH_AUTH_ERROR.rawValue:
                throw GuestSSHError.authenticationFailed(user: user, cause: lastError())
            default:
                throw GuestSSHError.authenticationFailed(user: user, cause: nil)
            }
        }
    }

    /// Opens a session channel, sends the exec request and then EOF, since the command gets
    /// no standard input.
    func startCommand(_ command: String, deadline: ContinuousClock.Instant, timeout: Duration)
        throws -> GuestChannel
    {
        guard let channel = ssh_channel_new(session) else {
            throw GuestSSHError.channelFailed("channel creation", cause: lastError())
        }
        // On a throw below, ssh_free in close() frees the channel.
        try retry(step: "channel open", deadline: deadline, timeout: timeout) {
            ssh_channel_open_session(channel)
        }
        try retry(step: "exec request", deadline: deadline, timeout: timeout) {
            ssh_channel_request_exec(channel, command)
        }
        try retry(step: "EOF", deadline: deadline, timeout: timeout) {
            ssh_channel_send_eof(channel)
        }
        return GuestChannel(connection: self, channel: channel)
    }

    private func retry(
        step: String, deadline: ContinuousClock.Instant, timeout: Duration,
        _ call: () -> Int32
    ) throws {
        while true {
            let status = call()
            if status == SSH_OK { return }
            guard status == SSH_AGAIN else {
                throw GuestSSHError.channelFailed(step, cause: lastError())
            }
            try wait(until: deadline, step: step, timeout: timeout)
        }
    }

    /// Waits in poll(2) until the socket is ready or the deadline passes.
    private func wait(until deadline: ContinuousClock.Instant, step: String, timeout: Duration)
        throws
    {
        let socket = ssh_get_fd(session)
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        if ssh_get_poll_flags(session) & SSH_WRITE_PENDING != 0 {
            descriptor.events |= Int16(POLLOUT)
        }
        while true {
            let (seconds, attoseconds) = (deadline - ContinuousClock.now).components
            let remaining = seconds * 1000 + attoseconds / 1_000_000_000_000_000
            guard remaining > 0 else { throw GuestSSHError.timedOut(step, after: timeout) }
            let ready = poll(&descriptor, 1, Int32(clamping: remaining))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR {
                throw GuestSSHError.connectFailed(cause: String(cString: strerror(errno)))
            }
        }
    }

    func lastError() -> String {
        String(cString: ssh_get_error(UnsafeMutableRawPointer(session)))
    }
}
