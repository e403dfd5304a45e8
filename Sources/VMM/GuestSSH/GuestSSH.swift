import CLibSSH
import Control
import Foundation

/// The result of a command run in a guest over SSH.
public struct GuestExecResult: Sendable, Equatable {
    public var exitCode: Int32
    /// Standard output and standard error, interleaved in the order they arrived.
    public var output: [UInt8]
}

/// A failed SSH exchange with a guest; the message is safe to show a user.
public struct GuestSSHError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Runs commands in guests through their sshd with a libssh client session.
public enum GuestSSH {
    /// Runs `command` as `user` over the connected TCP socket `fd`, which it takes over and
    /// closes.
    ///
    /// The guest's host key must equal `expectedHostKey` (an OpenSSH public key line), so a
    /// guest that is not the particle is never sent the platform key's signature. `timeout`
    /// bounds the key exchange and authentication; the command itself may run longer. Output
    /// chunks go to `onOutput` as they arrive. Blocking: call it from a dedicated thread.
    public static func exec(
        fd: Int32, user: String, privateKey: String, expectedHostKey: String, command: String,
        timeout: Duration, onOutput: ((_ bytes: [UInt8], _ isError: Bool) -> Void)?
    ) throws -> GuestExecResult {
        guard let session = ssh_new() else {
            close(fd)
            throw GuestSSHError("cannot allocate an SSH session")
        }
        // ssh_connect hands `fd` to the session's socket, which ssh_disconnect closes; before
        // that call the descriptor is still ours to close.
        var connecting = false
        defer {
            ssh_disconnect(session)
            ssh_free(session)
            if !connecting { close(fd) }
        }
        try configure(session, fd: fd, user: user, timeout: timeout)
        connecting = true
        guard ssh_connect(session) == SSH_OK else {
            throw GuestSSHError("SSH connection to the guest failed: \(lastError(session))")
        }
        try verifyHostKey(session, expected: expectedHostKey)
        try authenticate(session, privateKey: privateKey)
        return try run(session, command: command, onOutput: onOutput)
    }

    private static func configure(_ session: ssh_session, fd: Int32, user: String, timeout: Duration) throws {
        var socket = fd
        var seconds = Int(max(1, timeout.components.seconds))
        var no: Int32 = 0
        ssh_options_set(session, SSH_OPTIONS_FD, &socket)
        ssh_options_set(session, SSH_OPTIONS_HOST, "guest")
        ssh_options_set(session, SSH_OPTIONS_USER, user)
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &seconds)
        ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &no)
    }

    private static func verifyHostKey(_ session: ssh_session, expected: String) throws {
        let fields = expected.split(separator: " ")
        var expectedKey: ssh_key?
        guard fields.count >= 2,
            ssh_pki_import_pubkey_base64(
                String(fields[1]), ssh_key_type_from_name(String(fields[0])), &expectedKey) == SSH_OK
        else {
            throw GuestSSHError("the particle's stored host key is not a valid public key")
        }
        defer { ssh_key_free(expectedKey) }
        var serverKey: ssh_key?
        guard ssh_get_server_publickey(session, &serverKey) == SSH_OK else {
            throw GuestSSHError("the guest sent no host key")
        }
        defer { ssh_key_free(serverKey) }
        guard ssh_key_cmp(serverKey, expectedKey, SSH_KEY_CMP_PUBLIC) == 0 else {
            throw GuestSSHError("the guest's host key does not match the particle's; refusing to log in")
        }
    }

    private static func authenticate(_ session: ssh_session, privateKey: String) throws {
        var key: ssh_key?
        guard ssh_pki_import_privkey_base64(privateKey, nil, nil, nil, &key) == SSH_OK else {
            throw GuestSSHError("the platform key cannot be read")
        }
        defer { ssh_key_free(key) }
        let result = ssh_userauth_publickey(session, nil, key)
        guard result == SSH_AUTH_SUCCESS.rawValue else {
            throw GuestSSHError("the guest rejected the platform key: \(lastError(session))")
        }
    }

    private static func run(
        _ session: ssh_session, command: String,
        onOutput: ((_ bytes: [UInt8], _ isError: Bool) -> Void)?
    ) throws -> GuestExecResult {
        guard let channel = ssh_channel_new(session) else {
            throw GuestSSHError("cannot open an SSH channel: \(lastError(session))")
        }
        defer {
            ssh_channel_close(channel)
            ssh_channel_free(channel)
        }
        guard ssh_channel_open_session(channel) == SSH_OK,
            ssh_channel_request_exec(channel, command) == SSH_OK
        else {
            throw GuestSSHError("the guest refused the command: \(lastError(session))")
        }
        ssh_channel_send_eof(channel)

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 32 << 10)
        while true {
            var progressed = false
            for stream: Int32 in [0, 1] {
                let count = ssh_channel_read_nonblocking(channel, &buffer, UInt32(buffer.count), stream)
                if count == SSH_ERROR {
                    throw GuestSSHError("reading the command's output failed: \(lastError(session))")
                }
                if count > 0 {
                    let chunk = Array(buffer[..<Int(count)])
                    output += chunk
                    onOutput?(chunk, stream == 1)
                    progressed = true
                }
            }
            if progressed { continue }
            if ssh_channel_is_eof(channel) != 0 { break }
            // Wait for more data on either stream.
            _ = ssh_channel_poll_timeout(channel, 100, 0)
        }
        return GuestExecResult(exitCode: Int32(ssh_channel_get_exit_status(channel)), output: output)
    }

    private static func lastError(_ session: ssh_session) -> String {
        guard let message = ssh_get_error(UnsafeMutableRawPointer(session)) else { return "unknown error" }
        return String(cString: message)
    }
}
