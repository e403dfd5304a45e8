import Foundation

/// A TCP connection to one port of a running guest, opened for an SSH `direct-tcpip` channel.
///
/// The connection counts as `.ssh` activity on its particle from `Control.openTunnel` until
/// `Control.closeTunnel`, which closes the socket.
public struct GuestTunnel: Sendable {
    /// The connected, non-blocking TCP socket inside Particle's network namespace.
    public let socket: Int32
    public let particleID: String
    public let port: Int
    let activityID: UInt64
}

extension Control {
    /// Connects to `port` of the caller's running particle `name` and counts the connection as
    /// SSH activity until `closeTunnel` is called with the result.
    ///
    /// Throws `notFound` for a name that is not one of the account's particles (another
    /// account's particle included), `invalidArgument` for a port outside 1-65535,
    /// `invalidState` for a particle that is stopped (under policy `on` or `none`), and
    /// `unavailable` when nothing accepts on the guest port. A sleeping particle is woken
    /// first. `detail` names the tunnel in `why-awake` (the key, the kind of session).
    public func openTunnel(
        accountID: String, name: String, port: Int, detail: String? = nil
    ) async throws -> GuestTunnel {
        guard (1...65535).contains(port) else {
            throw ControlError.invalidArgument("invalid port \(port); use 1-65535")
        }
        let particle = try await ensureRunning(
            try await self.particle(accountID: accountID, name: name), reason: "ssh")

        let fields = [
            "account": accountID, "particle": particle.id, "name": name, "port": String(port),
        ]
        let socket: Int32
        do {
            socket = try await hypervisor.connect(address: particle.address, port: port)
        } catch {
            throw controlError(error, operation: "open tunnel", fields)
        }
        let activityID = activity.begin(particle.id, .ssh, detail: detail ?? "channel to port \(port)")
        return GuestTunnel(socket: socket, particleID: particle.id, port: port, activityID: activityID)
    }

    /// Closes the tunnel's socket and ends its activity; call it once per opened tunnel.
    public func closeTunnel(_ tunnel: GuestTunnel) {
        close(tunnel.socket)
        activity.end(tunnel.particleID, id: tunnel.activityID)
    }
}
