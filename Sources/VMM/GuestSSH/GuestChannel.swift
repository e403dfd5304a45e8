import CLibSSH

/// The channel of a running guest command; collects its output until the guest closes it.
///
/// libssh delivers output through channel callbacks, which keep standard output and standard
/// error in arrival order; `ssh_channel_read` would read one stream at a time.
final class GuestChannel {
    private let connection: GuestConnection
    private let channel: ssh_channel
    private var output: [UInt8] = []
    private var onOutput: ((_ bytes: [UInt8], _ isError: Bool) -> Void)?
    private var exitCode: Int32?

    init(connection: GuestConnection, channel: ssh_channel) {
        self.connection = connection
        self.channel = channel
    }

    /// Frees the channel; call it before `GuestConnection.close()`, whose `ssh_free` frees
    /// every channel of the session.
    func free() {
        ssh_channel_free(channel)
    }

    /// Runs the session until the guest closes the channel and returns the collected result.
    func collectOutput(onOutput: ((_ bytes: [UInt8], _ isError: Bool) -> Void)?) throws
        -> GuestExecResult
    {
        self.onOutput = onOutput
        var callbacks = ssh_channel_callbacks_struct()
        particle_ssh_init_channel_callbacks(&callbacks)
        return try withUnsafeMutablePointer(to: &callbacks) { pointer in
            install(pointer)
            defer { ssh_remove_channel_callbacks(channel, pointer) }
            try pump()
            guard let exitCode else { throw GuestSSHError.missingExitStatus() }
            return GuestExecResult(exitCode: exitCode, output: output)
        }
    }

    private func install(_ callbacks: UnsafeMutablePointer<ssh_channel_callbacks_struct>) {
        callbacks.pointee.userdata = Unmanaged.passUnretained(self).toOpaque()
        callbacks.pointee.channel_data_function = { _, _, data, length, isStderr, userdata in
            let channel = Unmanaged<GuestChannel>.fromOpaque(userdata!).takeUnretainedValue()
            let bytes = Array(UnsafeRawBufferPointer(start: data, count: Int(length)))
            channel.receive(bytes, isError: isStderr != 0)
            return Int32(length)
        }
        callbacks.pointee.channel_exit_status_function = { _, _, status, userdata in
            let channel = Unmanaged<GuestChannel>.fromOpaque(userdata!).takeUnretainedValue()
            channel.exitCode = Int32(status)
        }
        callbacks.pointee.channel_exit_signal_function = { _, _, signal, _, _, _, userdata in
            let channel = Unmanaged<GuestChannel>.fromOpaque(userdata!).takeUnretainedValue()
            let name = signal.map { String(cString: $0) } ?? ""
            channel.exitCode = 128 + (signalNumbers[name] ?? 0)
        }
        ssh_set_channel_callbacks(channel, callbacks)
    }

    private func receive(_ bytes: [UInt8], isError: Bool) {
        output += bytes
        onOutput?(bytes, isError)
    }

    private func pump() throws {
        guard let event = ssh_event_new() else {
            throw GuestSSHError.channelFailed("event creation", cause: "ssh_event_new failed")
        }
        ssh_event_add_session(event, connection.session)
        defer {
            ssh_event_remove_session(event, connection.session)
            ssh_event_free(event)
        }
        while ssh_channel_is_closed(channel) == 0 {
            // Bounded so that a connection the kernel dropped is noticed.
            let status = ssh_event_dopoll(event, 1000)
            let sessionStatus = ssh_get_status(connection.session)
            if status == SSH_ERROR || sessionStatus & (SSH_CLOSED | SSH_CLOSED_ERROR) != 0 {
                // The guest may close the connection right after the exit status.
                if exitCode != nil { return }
                throw GuestSSHError.connectionLost(cause: connection.lastError())
            }
        }
    }
}

/// Signal numbers on Linux for the names SSH's "exit-signal" carries (RFC 4254 section 6.10).
private let signalNumbers: [String: Int32] = [
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9, "USR1": 10,
    "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
]
