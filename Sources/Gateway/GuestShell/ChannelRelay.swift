import CLibSSH
import Glibc

/// How a relayed shell, command or subsystem ended.
enum RelayOutcome: Equatable {
    /// The guest sent this exit status.
    case exited(Int32)
    /// A signal killed the guest's process.
    case signaled(SSHExitSignal)
    /// The client closed the channel or hung up; the guest's channel was closed.
    case clientHungUp
    /// The guest closed the channel or the connection without an exit status.
    case guestDropped(String)
}

/// Relays one client session channel to a guest session channel until either side ends:
/// data both ways (standard error from the guest included), EOF from the client, window
/// changes and signals.
///
/// Both libssh sessions live in the client session's `ssh_event`, so one poll(2) waits for
/// both. Each direction moves only as many bytes as the receiving channel's window allows,
/// so a write never waits for a window adjust and a slow side slows the other down.
final class ChannelRelay {
    private let io: SSHCommandIO
    private let guest: GuestClient
    private let guestChannel: ssh_channel
    private var exitStatus: Int32?
    private var exitSignal: SSHExitSignal?
    /// The guest closed the channel. libssh keeps such a channel open while it still holds
    /// unread data ("delayed close"), so the close callback is the reliable sign.
    private var guestClosed = false
    private var forwardedSize: (columns: Int, rows: Int)?
    private var clientEOFForwarded = false
    private var buffer = [UInt8](repeating: 0, count: 32_768)
    private(set) var bytesToGuest = 0
    private(set) var bytesToClient = 0

    init(io: SSHCommandIO, guest: GuestClient, guestChannel: ssh_channel) {
        self.io = io
        self.guest = guest
        self.guestChannel = guestChannel
        if let terminal = io.pseudoTerminal {
            forwardedSize = (terminal.columns, terminal.rows)
        }
    }

    func run() -> RelayOutcome {
        var callbacks = ssh_channel_callbacks_struct()
        particle_ssh_init_channel_callbacks(&callbacks)
        return withUnsafeMutablePointer(to: &callbacks) { pointer in
            install(pointer)
            ssh_event_add_session(io.event, guest.session)
            defer {
                ssh_event_remove_session(io.event, guest.session)
                ssh_remove_channel_callbacks(guestChannel, pointer)
            }
            return relay()
        }
    }

    private func relay() -> RelayOutcome {
        while true {
            forwardWindowSize()
            forwardSignals()
            while true {
                let movedToGuest = moveToGuest()
                let movedToClient = moveToClient()
                if !movedToGuest && !movedToClient { break }
            }

            if clientGone {
                ssh_channel_close(guestChannel)
                return .clientHungUp
            }
            if guestSessionClosed || (guestClosed && guestDrained) {
                if let exitSignal { return .signaled(exitSignal) }
                if let exitStatus { return .exited(exitStatus) }
                return .guestDropped(guestSessionClosed ? guest.lastError : "no exit status")
            }
            // Bounded so that a connection the kernel dropped is noticed.
            if ssh_event_dopoll(io.event, 1000) == SSH_ERROR && clientGone {
                ssh_channel_close(guestChannel)
                return .clientHungUp
            }
        }
    }

    private var clientGone: Bool { io.channelGone }

    /// Whether both of the guest's streams are read up to their end of file.
    private var guestDrained: Bool {
        ssh_channel_poll(guestChannel, 0) == SSH_EOF && ssh_channel_poll(guestChannel, 1) == SSH_EOF
    }

    private var guestSessionClosed: Bool {
        ssh_get_status(guest.session) & (SSH_CLOSED | SSH_CLOSED_ERROR) != 0
    }

    /// Moves one chunk from the client to the guest, or the client's EOF; returns whether
    /// anything moved.
    private func moveToGuest() -> Bool {
        guard !clientEOFForwarded, !guestClosed else { return false }
        let window = Int(ssh_channel_window_size(guestChannel))
        guard window > 0 else { return false }
        let count = ssh_channel_read_nonblocking(
            io.channel, &buffer, UInt32(min(window, buffer.count)), 0)
        if count > 0 {
            ssh_channel_write(guestChannel, buffer, UInt32(count))
            bytesToGuest += Int(count)
            return true
        }
        if count == SSH_EOF || (count == 0 && ssh_channel_is_eof(io.channel) != 0) {
            ssh_channel_send_eof(guestChannel)
            clientEOFForwarded = true
            return true
        }
        return false
    }

    /// Moves one chunk of the guest's standard output or error to the client; returns
    /// whether anything moved.
    private func moveToClient() -> Bool {
        let window = Int(ssh_channel_window_size(io.channel))
        guard window > 0, !clientGone else { return false }
        for isStderr: Int32 in [0, 1] {
            let count = ssh_channel_read_nonblocking(
                guestChannel, &buffer, UInt32(min(window, buffer.count)), isStderr)
            guard count > 0 else { continue }
            if isStderr == 0 {
                ssh_channel_write(io.channel, buffer, UInt32(count))
            } else {
                ssh_channel_write_stderr(io.channel, buffer, UInt32(count))
            }
            bytesToClient += Int(count)
            return true
        }
        return false
    }

    private func forwardWindowSize() {
        guard let terminal = io.pseudoTerminal, let sent = forwardedSize,
            sent != (terminal.columns, terminal.rows)
        else { return }
        ssh_channel_change_pty_size(guestChannel, Int32(terminal.columns), Int32(terminal.rows))
        forwardedSize = (terminal.columns, terminal.rows)
    }

    private func forwardSignals() {
        for signal in io.takeSignals() {
            ssh_channel_request_send_signal(guestChannel, signal)
        }
    }

    private func install(_ callbacks: UnsafeMutablePointer<ssh_channel_callbacks_struct>) {
        callbacks.pointee.userdata = Unmanaged.passUnretained(self).toOpaque()
        callbacks.pointee.channel_close_function = { _, _, userdata in
            let relay = Unmanaged<ChannelRelay>.fromOpaque(userdata!).takeUnretainedValue()
            relay.guestClosed = true
        }
        callbacks.pointee.channel_exit_status_function = { _, _, status, userdata in
            let relay = Unmanaged<ChannelRelay>.fromOpaque(userdata!).takeUnretainedValue()
            relay.exitStatus = Int32(status)
        }
        callbacks.pointee.channel_exit_signal_function = {
            _, _, signal, core, message, _, userdata in
            let relay = Unmanaged<ChannelRelay>.fromOpaque(userdata!).takeUnretainedValue()
            relay.exitSignal = SSHExitSignal(
                name: signal.map { String(cString: $0) } ?? "KILL", coreDumped: core != 0,
                message: message.map { String(cString: $0) } ?? "")
        }
        ssh_set_channel_callbacks(guestChannel, callbacks)
    }
}
