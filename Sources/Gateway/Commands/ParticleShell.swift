import CLibSSH
import Control
import Foundation
import Support

/// How long logging in to a guest's sshd may take, handshake and channel requests included.
private let guestLoginTimeout = Duration.seconds(30)

extension GatewayHandler {
    /// Runs a shell, command or subsystem in particle `name` through its sshd, logged in as
    /// root with the platform key, and relays it to the client until either side ends.
    ///
    /// Returns the guest's exit status. A signal that killed the guest's process is passed on
    /// as "exit-signal", as OpenSSH's sshd does. Errors before the relay starts get one line on
    /// stderr and an exit status from the table in `CommandExitStatus`.
    func runInParticle(
        _ name: String, _ request: GuestClient.Request, identity: SSHIdentity, io: SSHCommandIO
    ) -> Int32 {
        let errors = SessionIO(io)
        let accountID = identity.accountID
        let control = self.control
        let detail = "ssh \(request.logName) as root, key \(identity.keyFingerprint)"
        let login: GuestLogin
        do {
            try runner.admitCommand(keyFingerprint: identity.keyFingerprint)
            login = try blockingAwait {
                try await control.openGuestLogin(accountID: accountID, name: name, detail: detail)
            }
        } catch {
            return runner.report(error, accountID: accountID, io: errors)
        }
        defer { control.closeTunnel(login.tunnel) }

        var fields = [
            "account": accountID, "particle": login.tunnel.particleID, "name": name,
            "request": request.logName, "fingerprint": identity.keyFingerprint,
        ]
        let started = ContinuousClock.now
        let guest: GuestClient
        let channel: ssh_channel
        do {
            guest = try GuestClient(
                socket: login.tunnel.socket, user: login.user, hostKey: login.keys.hostKey,
                deadline: .now + guestLoginTimeout)
        } catch {
            return loginFailed(name, error, fields: fields, io: errors)
        }
        defer { guest.close() }
        do {
            try guest.logIn(privateKey: login.keys.privateKey)
            channel = try guest.start(
                request, terminal: io.pseudoTerminal, environment: io.environment)
        } catch {
            return loginFailed(name, error, fields: fields, io: errors)
        }
        runner.logger.info("particle session opened", fields)

        let relay = ChannelRelay(io: io, guest: guest, guestChannel: channel)
        let outcome = relay.run()
        fields["ms"] = String(milliseconds(since: started))
        fields["bytes_to_guest"] = String(relay.bytesToGuest)
        fields["bytes_to_client"] = String(relay.bytesToClient)
        switch outcome {
        case .exited(let status):
            fields["status"] = String(status)
            runner.logger.info("particle session closed", fields)
            return status
        case .signaled(let signal):
            fields["signal"] = signal.name
            runner.logger.info("particle session closed", fields)
            io.setExitSignal(signal)
            return 128 + (signalNumbers[signal.name] ?? 0)
        case .clientHungUp:
            fields["hangup"] = "true"
            runner.logger.info("particle session closed", fields)
            return 129
        case .guestDropped(let cause):
            fields["error"] = cause
            runner.logger.warning("particle session dropped", fields)
            errors.writeError(
                "error: the connection to particle '\(name)' dropped; see `status \(name)`\n")
            return CommandExitStatus.unavailable.rawValue
        }
    }

    private func loginFailed(
        _ name: String, _ error: any Error, fields: [String: String], io: any CommandIO
    ) -> Int32 {
        runner.logger.warning(
            "particle login failed", fields.merging(["error": "\(error)"]) { a, _ in a })
        io.writeError(
            "error: cannot log in to particle '\(name)'; its sshd may still be starting, so retry"
                + " in a few seconds or see `logs \(name)`\n")
        return CommandExitStatus.unavailable.rawValue
    }
}

extension GuestClient.Request {
    /// A name for logs that carries no command text, which may hold secrets.
    var logName: String {
        switch self {
        case .shell: "shell"
        case .exec: "exec"
        case .subsystem(let name): "subsystem " + name.prefix(24)
        }
    }
}

/// Signal numbers on Linux for the names that SSH's "exit-signal" carries.
private let signalNumbers: [String: Int32] = [
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9, "USR1": 10,
    "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
]
