import Control
import Foundation
import Support

/// Connects the SSH transport to Particle: keys find accounts, and requests run gateway
/// commands or, for a user name that names one of the caller's particles, reach that
/// particle's shell.
public final class GatewayHandler: SSHSessionHandler {
    let runner: CommandRunner
    let control: Control

    public init(runner: CommandRunner, control: Control) {
        self.runner = runner
        self.control = control
    }

    public func authenticate(_ key: SSHPublicKeyInfo, user: String, peer: String) -> SSHIdentity? {
        let publicKey = SSHPublicKey(algorithm: key.algorithm, base64: key.base64)
        let control = self.control
        do {
            let (account, _) = try blockingAwait { try await control.account(forSSHKey: publicKey) }
            return SSHIdentity(accountID: account.id, keyFingerprint: key.fingerprint, user: user)
        } catch {
            runner.logger.error(
                "account lookup failed", ["fingerprint": key.fingerprint, "peer": peer, "error": "\(error)"])
            return nil
        }
    }

    public func exec(_ command: String, identity: SSHIdentity, io: SSHCommandIO) -> Int32 {
        explainRejectedRequests(io, identity: identity)
        switch target(of: identity, io: io) {
        case .particle(let name):
            return runInParticle(name, .exec(command), identity: identity, io: io)
        case .gateway:
            return runner.run(command, identity: identity, io: SessionIO(io))
        case .failed(let status):
            return status
        }
    }

    public func shell(identity: SSHIdentity, io: SSHCommandIO) -> Int32 {
        explainRejectedRequests(io, identity: identity)
        switch target(of: identity, io: io) {
        case .particle(let name):
            return runInParticle(name, .shell, identity: identity, io: io)
        case .gateway:
            guard io.pseudoTerminal != nil else {
                io.write(shortHelp(identity))
                return 0
            }
            let prompt = InteractivePrompt(runner: runner, identity: identity, io: io)
            return prompt.run(banner: banner(identity))
        case .failed(let status):
            return status
        }
    }

    /// Accepts every subsystem, so that a refusal can explain itself on stderr: only a
    /// particle's sshd offers subsystems (`sftp`).
    public func acceptsSubsystem(_ name: String, identity: SSHIdentity) -> Bool { true }

    public func subsystem(_ name: String, identity: SSHIdentity, io: SSHCommandIO) -> Int32 {
        switch target(of: identity, io: io) {
        case .particle(let particle):
            return runInParticle(particle, .subsystem(name), identity: identity, io: io)
        case .gateway:
            let port = runner.gateway.sshPort
            let host = runner.gateway.publicHost
            io.writeError(
                "error: the gateway has no subsystem '\(CommandRunner.printable(name))'; connect as"
                    + " a particle for it, like `sftp -P \(port) NAME@\(host)`\n")
            return CommandExitStatus.usage.rawValue
        case .failed(let status):
            return status
        }
    }

    /// Connects a `direct-tcpip` channel to a port of one of the caller's own particles.
    ///
    /// The host must be a particle name of the caller's account. Every other target (an IP
    /// address, a DNS name, another account's particle) fails the lookup, so the gateway never
    /// connects to the host or its networks on a user's behalf.
    public func openTunnel(host: String, port: Int, identity: SSHIdentity)
        -> Result<SSHTunnelEndpoint, TunnelRejection>
    {
        guard (try? ParticleName.validate(host)) != nil else {
            return .failure(
                TunnelRejection(
                    "'\(host)' is not a particle name; forward to one of your particles by name,"
                        + " like `ssh -W web:22`"))
        }
        let control = self.control
        let detail = "ssh channel to port \(port), key \(identity.keyFingerprint)"
        do {
            let tunnel = try blockingAwait {
                try await control.openTunnel(
                    accountID: identity.accountID, name: host, port: port, detail: detail)
            }
            return .success(
                SSHTunnelEndpoint(socket: tunnel.socket, close: { control.closeTunnel(tunnel) }))
        } catch let error as ControlError {
            return .failure(TunnelRejection(error.message))
        } catch {
            return .failure(TunnelRejection("opening a tunnel to \(host):\(port) failed: \(error)"))
        }
    }

    // MARK: - Session targets

    /// The destination of a session request.
    enum Target {
        case gateway
        /// A shell or command in the caller's particle of this name.
        case particle(String)
        /// The lookup failed; the error is on stderr and this is the exit status.
        case failed(Int32)
    }

    /// Returns the particle that the user name names, or the gateway when the account has no
    /// particle of that name.
    func target(of identity: SSHIdentity, io: SSHCommandIO) -> Target {
        guard (try? ParticleName.validate(identity.user)) != nil else { return .gateway }
        let control = self.control
        let (accountID, user) = (identity.accountID, identity.user)
        do {
            let particles = try blockingAwait { try await control.particles(accountID: accountID) }
            return particles.contains { $0.name == user } ? .particle(user) : .gateway
        } catch {
            return .failed(runner.report(error, accountID: accountID, io: SessionIO(io)))
        }
    }

    /// Explains on stderr each request that the server rejected without a reason the client
    /// shows: agent forwarding (sent without a reply) and remote forwarding (rejected with no
    /// text).
    private func explainRejectedRequests(_ io: SSHCommandIO, identity: SSHIdentity) {
        let jump = "ssh -A -J \(identity.user)@\(runner.gateway.publicHost):\(runner.gateway.sshPort)"
        for request in io.rejectedRequests {
            let text: String
            switch request {
            case .agentForwarding:
                text =
                    "agent forwarding (ssh -A) is not offered by the gateway; to use your agent"
                    + " in a particle, connect through the jump host: `\(jump) root@NAME`"
            case .remoteForwarding(let address):
                text =
                    "remote port forwarding (ssh -R, listen address \(address)) is not offered;"
                    + " the gateway forwards only to your particles (ssh -L, -W, -J)"
            case .x11Forwarding:
                text = "X11 forwarding (ssh -X) is not offered by the gateway"
            }
            io.writeError("warning: \(text)\n")
        }
    }

    private func banner(_ identity: SSHIdentity) -> String {
        var text = "Particle gateway, account \(identity.accountID). Type `help` for the commands,"
        text += " Tab to complete, Ctrl-D or `exit` to leave.\n"
        if (try? ParticleName.validate(identity.user)) != nil {
            // The user name could have been meant as a particle.
            text += "(No particle is named '\(identity.user)'; `ssh -p \(runner.gateway.sshPort)"
            text += " NAME@\(runner.gateway.publicHost)` opens a shell in particle NAME.)\n"
        }
        return text
    }

    private func shortHelp(_ identity: SSHIdentity) -> String {
        let port = runner.gateway.sshPort
        let host = runner.gateway.publicHost
        return """
            Particle: small virtual machines over SSH (account \(identity.accountID)).
              ssh -p \(port) \(host) help            list the commands
              ssh -p \(port) \(host) COMMAND [--json]  run one, like `ls` or `create web`
              ssh -t -p \(port) \(host)              an interactive prompt (needs a terminal)
              ssh -p \(port) NAME@\(host)            a shell in your particle NAME

            """
    }
}
