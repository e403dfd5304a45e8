import Foundation

/// What it takes to log in to a guest's sshd as root: the platform's private key and the
/// guest's host key. Hypervisors whose guests run an sshd that Particle manages provide it.
///
/// It is kept apart from `Hypervisor` so that a hypervisor without such a login (tests'
/// recording hypervisor) need not implement it. For such a hypervisor, `openGuestLogin`
/// throws `unavailable`.
public protocol GuestLoginProvider: Sendable {
    /// Returns the platform key and the host key of particle `particleID`'s guest.
    func guestLoginKeys(particleID: String) async throws -> GuestLoginKeys
}

/// The keys of a root login to one guest.
public struct GuestLoginKeys: Sendable {
    /// The platform's private key in OpenSSH format, which root's `authorized_keys` in every
    /// guest accepts. Never log it.
    public var privateKey: String
    /// The guest's host key as an OpenSSH public key line, to check the guest against.
    public var hostKey: String

    public init(privateKey: String, hostKey: String) {
        self.privateKey = privateKey
        self.hostKey = hostKey
    }
}

/// An open connection to a guest's sshd (port 22) and the keys to log in with.
public struct GuestLogin: Sendable {
    public let tunnel: GuestTunnel
    /// The user to log in as: root, whose `authorized_keys` has the platform key.
    public let user: String
    public let keys: GuestLoginKeys
}

extension Control {
    /// Connects to the sshd of the caller's running particle `name` for a shell or a command
    /// that the gateway relays, and returns the keys to log in with.
    ///
    /// The connection counts as SSH activity, named `detail`, until `closeTunnel(login.tunnel)`,
    /// which the caller must call once. A sleeping particle is woken first, as by `openTunnel`,
    /// which also names the errors: `notFound` for a name that is not one of the account's
    /// particles and `invalidState` for a stopped one that use does not start.
    public func openGuestLogin(accountID: String, name: String, detail: String? = nil)
        async throws -> GuestLogin
    {
        guard let provider = hypervisor as? any GuestLoginProvider else {
            throw ControlError.unavailable(
                "shells in particles are not offered by this server's hypervisor; use `exec`")
        }
        let tunnel = try await openTunnel(
            accountID: accountID, name: name, port: 22, detail: detail ?? "guest login")
        do {
            let keys = try await provider.guestLoginKeys(particleID: tunnel.particleID)
            return GuestLogin(tunnel: tunnel, user: "root", keys: keys)
        } catch {
            closeTunnel(tunnel)
            throw controlError(
                error, operation: "guest login", ["account": accountID, "name": name])
        }
    }
}
