import Foundation
import Support

/// The platform's SSH key pair, which `exec` and the gateway use to log in to guests as root.
///
/// Generated once per state directory; its public half goes on every guest's config drive.
struct PlatformKey: Sendable {
    var privateKey: String
    var publicKey: String

    static func loadOrCreate(in stateDirectory: URL) throws -> PlatformKey {
        let path = stateDirectory.appendingPathComponent("platform_ed25519_key").path
        if !FileManager.default.fileExists(atPath: path) {
            try? FileManager.default.removeItem(atPath: path + ".pub")
            try Command.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "particle-platform", "-f", path])
            chmod(path, 0o600)
        }
        return PlatformKey(
            privateKey: try String(contentsOfFile: path, encoding: .utf8),
            publicKey: try String(contentsOfFile: path + ".pub", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
