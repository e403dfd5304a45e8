import Foundation
import Support
import Testing

@testable import Control

/// A key type that `ssh-keygen -t` makes, with the options that select it.
enum SSHKeyType: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case ed25519, ecdsa256, ecdsa384, ecdsa521, rsa3072

    var keygenOptions: [String] {
        switch self {
        case .ed25519: ["-t", "ed25519"]
        case .ecdsa256: ["-t", "ecdsa", "-b", "256"]
        case .ecdsa384: ["-t", "ecdsa", "-b", "384"]
        case .ecdsa521: ["-t", "ecdsa", "-b", "521"]
        case .rsa3072: ["-t", "rsa", "-b", "3072"]
        }
    }

    var testDescription: String { rawValue }
}

/// A temporary directory where `ssh-keygen` makes keys and signatures. Call `remove()` in a
/// `defer` right after creating it.
struct SSHKeyDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sshsig-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }

    /// Makes a key pair without a passphrase and returns its private key path and public key.
    func makeKey(_ type: SSHKeyType, name: String = "key") throws -> (
        path: String, publicKey: SSHPublicKey
    ) {
        let path = url.appendingPathComponent(name).path
        try Command.run(
            "ssh-keygen", ["-q", "-N", "", "-C", name, "-f", path] + type.keygenOptions)
        let line = try String(contentsOfFile: path + ".pub", encoding: .utf8)
        return (path, try SSHPublicKey(parsing: line))
    }

    /// Signs `message` with `ssh-keygen -Y sign` and returns the armored signature it prints.
    func sign(_ message: [UInt8], keyPath: String, namespace: String = "particle") throws -> String
    {
        let arguments = ["-Y", "sign", "-f", keyPath, "-n", namespace]
        return try Command.run("ssh-keygen", arguments, input: Data(message)).output
    }

    /// Signs `data` with `openssl dgst -DIGEST -sign` (RSASSA-PKCS1-v1_5) and returns the raw
    /// signature. `keyPath` must be a PEM private key.
    func opensslSign(_ data: [UInt8], keyPath: String, digest: String) throws -> [UInt8] {
        let output = url.appendingPathComponent("openssl-signature").path
        let arguments = ["dgst", "-\(digest)", "-sign", keyPath, "-out", output]
        try Command.run("openssl", arguments, input: Data(data))
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: output)))
    }
}

/// The fields of an `SSHSIG` blob, editable so tests can build malformed and forged signatures.
struct SSHSignatureFields {
    var magic = Array("SSHSIG".utf8)
    var version: UInt32 = 1
    var publicKey: [UInt8]
    var namespace: [UInt8]
    var reserved: [UInt8] = []
    var hashAlgorithm = Array("sha512".utf8)
    var signature: [UInt8]
    var trailing: [UInt8] = []

    init(publicKey: [UInt8], namespace: String, hashAlgorithm: String, signature: [UInt8]) {
        self.publicKey = publicKey
        self.namespace = Array(namespace.utf8)
        self.hashAlgorithm = Array(hashAlgorithm.utf8)
        self.signature = signature
    }

    /// Splits an armored signature into its fields with the parser under test.
    init(armored: String) throws {
        let blob = try SSHSignatureBlob(parsing: SSHSignature.decodeArmor(armored))
        publicKey = blob.publicKey
        namespace = blob.namespace
        reserved = blob.reserved
        hashAlgorithm = Array(blob.hashAlgorithm.utf8)
        signature = blob.signature
    }

    var blob: [UInt8] {
        var bytes = magic + Self.uint32(version)
        for field in [publicKey, namespace, reserved, hashAlgorithm, signature] {
            bytes += Self.string(field)
        }
        return bytes + trailing
    }

    var armored: String { Self.armor(blob) }

    /// Wraps `blob` in the armor lines with base64 lines of 70 characters, as ssh-keygen does.
    static func armor(_ blob: [UInt8]) -> String {
        let base64 = Array(Data(blob).base64EncodedString())
        let lines = stride(from: 0, to: base64.count, by: 70).map {
            String(base64[$0..<min($0 + 70, base64.count)])
        }
        return (["-----BEGIN SSH SIGNATURE-----"] + lines + ["-----END SSH SIGNATURE-----"])
            .joined(separator: "\n") + "\n"
    }

    static func uint32(_ value: UInt32) -> [UInt8] {
        [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) }
    }

    static func string(_ value: [UInt8]) -> [UInt8] {
        uint32(UInt32(value.count)) + value
    }

    /// Encodes an SSH signature field: `string algorithm`, then `string signature`.
    static func sshSignature(algorithm: String, _ bytes: [UInt8]) -> [UInt8] {
        string(Array(algorithm.utf8)) + string(bytes)
    }
}

/// Runs `body` and returns the `ControlError` it throws, or nil if it returns normally.
/// Any other error is recorded as a test issue.
func verificationError(_ body: () throws -> Void) -> ControlError? {
    do {
        try body()
        return nil
    } catch let error as ControlError {
        return error
    } catch {
        Issue.record("expected a ControlError, got \(error)")
        return ControlError(.internal, "\(error)")
    }
}
