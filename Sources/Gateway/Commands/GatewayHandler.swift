import Control
import Foundation
import Support

/// Connects the SSH transport to Particle: keys find accounts, exec requests run commands.
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
        runner.run(command, accountID: identity.accountID, io: SessionIO(io))
    }

    public func shell(identity: SSHIdentity, io: SSHCommandIO) -> Int32 {
        io.write(GatewayCommand.overview(runner.gateway) + "\n")
        return 0
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
        do {
            let tunnel = try blockingAwait {
                try await control.openTunnel(accountID: identity.accountID, name: host, port: port)
            }
            return .success(
                SSHTunnelEndpoint(socket: tunnel.socket, close: { control.closeTunnel(tunnel) }))
        } catch let error as ControlError {
            return .failure(TunnelRejection(error.message))
        } catch {
            return .failure(TunnelRejection("opening a tunnel to \(host):\(port) failed: \(error)"))
        }
    }
}

/// Adapts the transport's channel I/O to what commands use.
final class SessionIO: CommandIO {
    let io: SSHCommandIO
    private var pending: [UInt8] = []

    init(_ io: SSHCommandIO) {
        self.io = io
    }

    func write(_ text: String) { _ = io.write(text) }
    func writeError(_ text: String) { _ = io.writeError(text) }
    func write(bytes: [UInt8]) { _ = io.write(bytes) }
    var isClosed: Bool { io.isClosed }

    func readLine() -> String? {
        while true {
            if let newline = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            guard let chunk = try? io.read(), !chunk.isEmpty else {
                defer { pending.removeAll() }
                return pending.isEmpty ? nil : String(decoding: pending, as: UTF8.self)
            }
            pending += chunk
        }
    }
}
