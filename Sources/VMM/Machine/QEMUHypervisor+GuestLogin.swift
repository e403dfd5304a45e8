import Control
import Foundation

extension QEMUHypervisor: GuestLoginProvider {
    /// Returns the platform key, which every guest's root accepts, and the host key made for
    /// the particle at creation.
    public func guestLoginKeys(particleID: String) async throws -> GuestLoginKeys {
        let hostKey = try String(contentsOf: files(particleID).hostKeyPublic, encoding: .utf8)
        return GuestLoginKeys(
            privateKey: platformKey.privateKey,
            hostKey: hostKey.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
