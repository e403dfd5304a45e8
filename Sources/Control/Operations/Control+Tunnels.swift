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
}

extension Control {
    /// Connects to `port` of the caller's running particle `name` and counts the connection as
    /// SSH activity until `closeTunnel` is called with the result.
    ///
    /// Throws `notFound` for a name that is not one of the account's particles (another
    /// account's particle included), `invalidArgument` for a port outside 1-65535,
    /// `invalidState` for a particle that is not running, and `unavailable` when nothing
    /// accepts on the guest port.
    public func openTunnel(accountID: String, name: String, port: Int) async throws -> GuestTunnel {
        guard (1...65535).contains(port) else {
            throw ControlError.invalidArgument("invalid port \(port); use 1-65535")
        }
        let particle = try await self.particle(accountID: accountID, name: name)
        guard particle.status == .running else {
            throw ControlError.invalidState(
                "particle '\(name)' is \(particle.status.rawValue); run `start \(name)` first")
        }

        let fields = [
            "account": accountID, "particle": particle.id, "name": name, "port": String(port),
        ]
        let socket: Int32
        do {
            socket = try await hypervisor.connect(address: particle.address, port: port)
        } catch {
            throw controlError(error, operation: "open tunnel", fields)
        }
        activity.begin(particle.id, .ssh)
        return GuestTunnel(socket: socket, particleID: particle.id, port: port)
    }

    /// Closes the tunnel's socket and ends its activity; call it once per opened tunnel.
    public func closeTunnel(_ tunnel: GuestTunnel) {
        close(tunnel.socket)
        activity.end(tunnel.particleID, .ssh)
    }
}
