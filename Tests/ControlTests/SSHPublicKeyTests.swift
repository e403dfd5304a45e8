import Foundation
import Support
import Testing

@testable import Control

@Suite struct SSHPublicKeyTests {
    @Test(arguments: ["ed25519", "ecdsa", "rsa"])
    func fingerprintMatchesSSHKeygen(type: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pk-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("key").path
        try Command.run("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "me@laptop", "-f", path])

        let line = try String(contentsOfFile: path + ".pub", encoding: .utf8)
        let key = try SSHPublicKey(parsing: line)
        let expected = try Command.run("ssh-keygen", ["-l", "-E", "sha256", "-f", path + ".pub"]).output
        #expect(expected.contains(key.fingerprint + " "))
        #expect(key.comment == "me@laptop")
        #expect(key.lineWithComment == line.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test(arguments: [
        ("", "invalid public key"), ("ssh-ed25519", "invalid public key"),
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "unsupported key type 'ssh-dss'"),
        ("ssh-ed25519 not-base64!", "not a valid ssh-ed25519 key"),
        // A valid ecdsa blob presented under the ed25519 name.
        ("ssh-ed25519 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABB", "not a valid ssh-ed25519 key"),
    ])
    func invalidKeys(line: String, expected: String) {
        #expect {
            try SSHPublicKey(parsing: line)
        } throws: { error in
            (error as! ControlError).message.contains(expected)
        }
    }
}
