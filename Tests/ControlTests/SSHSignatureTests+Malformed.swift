import Foundation
import Support
import Testing

@testable import Control

extension SSHSignatureTests {
    static let someKey = SSHPublicKey(
        algorithm: "ssh-ed25519",
        base64: "AAAAC3NzaC1lZDI1NTE5AAAAIJF/cQ7wi/CdiQPv+NZrTe98NtLFezhOXUJBD+f0UWT0")

    @Test(arguments: [
        ("", "the armor does not start with"),
        ("hello", "the armor does not start with"),
        ("-----BEGIN SSH SIGNATURE-----\nAAAA\n", "the armor does not end with"),
        (
            "-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----",
            "contains no signature data"
        ),
        ("-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----", "not valid base64"),
        (
            "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----",
            "magic preamble field is truncated"
        ),
        (
            SSHSignatureFields.armor(Array("SSHSIG".utf8) + [0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF]),
            "the publickey field is truncated"
        ),
        (SSHSignatureFields.armor([UInt8](repeating: 0x41, count: 13_000)), "over 16384 bytes"),
    ])
    func malformedArmorInvalid(armored: String, expected: String) {
        let error = verificationError {
            try SSHSignature.verify(
                armored: armored, publicKey: Self.someKey, namespace: "particle", message: [])
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(expected) == true, "message: \(error?.message ?? "none")")
    }

    /// Edits one field of a real ed25519 signature per case, and checks the error each edit causes.
    @Test func malformedFieldsRejected() throws {
        let keys = try SSHKeyDirectory()
        defer { keys.remove() }
        let key = try keys.makeKey(.ed25519)
        let original = try SSHSignatureFields(armored: keys.sign(challenge, keyPath: key.path))
        let innerSignature = Array(original.signature.suffix(64))

        let cases = [
            FieldEdit("magic", .invalidArgument, "does not start with the magic") {
                $0.magic = Array("SSHSIH".utf8)
            },
            FieldEdit("version", .invalidArgument, "version 2 is not supported") { $0.version = 2 },
            FieldEdit("hash", .invalidArgument, "hash algorithm 'md5'") {
                $0.hashAlgorithm = Array("md5".utf8)
            },
            FieldEdit("empty namespace", .invalidArgument, "namespace field is empty") {
                $0.namespace = []
            },
            FieldEdit("trailing", .invalidArgument, "1 unexpected byte at the end of the blob") {
                $0.trailing = [0]
            },
            FieldEdit("algorithm", .invalidArgument, "does not match the key") {
                $0.signature = SSHSignatureFields.sshSignature(algorithm: "ssh-rsa", innerSignature)
            },
            FieldEdit("short", .invalidArgument, "not 64 bytes") {
                let short = Array(innerSignature.dropLast())
                $0.signature = SSHSignatureFields.sshSignature(algorithm: "ssh-ed25519", short)
            },
            FieldEdit("inner trailing", .invalidArgument, "at the end of the signature field") {
                $0.signature += [0]
            },
            // The reserved field and the hash algorithm are signed, so changing them is caught.
            FieldEdit("reserved", .unauthorized, "does not match") { $0.reserved = [1] },
            FieldEdit("relabelled hash", .unauthorized, "does not match") {
                $0.hashAlgorithm = Array("sha256".utf8)
            },
        ]
        for edit in cases {
            var fields = original
            edit.apply(&fields)
            let error = verificationError {
                try SSHSignature.verify(
                    armored: fields.armored, publicKey: key.publicKey, namespace: "particle",
                    message: challenge)
            }
            #expect(error?.code == edit.code, "case \(edit.name)")
            #expect(
                error?.message.contains(edit.expected) == true,
                "case \(edit.name): \(error?.message ?? "none")")
        }
    }

    /// `ssh-keygen -Y sign` always uses rsa-sha2-512, so these signatures are made with
    /// `openssl dgst` over the signed data that PROTOCOL.sshsig defines.
    @Test func rsaSignatureAlgorithms() throws {
        let keys = try SSHKeyDirectory()
        defer { keys.remove() }
        let key = try keys.makeKey(.rsa3072)
        let keyBlob = try #require(Data(base64Encoded: key.publicKey.base64)).map { $0 }
        // Rewrite the private key in place as PEM, which `openssl dgst -sign` reads.
        try Command.run(
            "ssh-keygen", ["-q", "-p", "-m", "PEM", "-N", "", "-P", "", "-f", key.path])

        func signed(hash: String, digest: String, label: String) throws -> ControlError? {
            var fields = SSHSignatureFields(
                publicKey: keyBlob, namespace: "particle", hashAlgorithm: hash, signature: [])
            let blob = try SSHSignatureBlob(parsing: fields.blob)
            let raw = try keys.opensslSign(
                blob.signedData(message: challenge), keyPath: key.path, digest: digest)
            fields.signature = SSHSignatureFields.sshSignature(algorithm: label, raw)
            return verificationError {
                try SSHSignature.verify(
                    armored: fields.armored, publicKey: key.publicKey, namespace: "particle",
                    message: challenge)
            }
        }

        #expect(try signed(hash: "sha256", digest: "sha256", label: "rsa-sha2-256") == nil)
        #expect(try signed(hash: "sha512", digest: "sha512", label: "rsa-sha2-512") == nil)
        let sha1 = try signed(hash: "sha512", digest: "sha1", label: "ssh-rsa")
        #expect(sha1?.code == .invalidArgument)
        #expect(sha1?.message.contains("SHA-1 (ssh-rsa) are not accepted") == true)
        let mislabelled = try signed(hash: "sha512", digest: "sha256", label: "rsa-sha2-512")
        #expect(mislabelled?.code == .unauthorized)
    }
}

/// One case of `malformedFieldsRejected`: an edit of a signature's fields and the error it causes.
struct FieldEdit {
    var name: String
    var code: ControlError.Code
    /// Text the error message must contain.
    var expected: String
    var apply: (inout SSHSignatureFields) -> Void

    init(
        _ name: String, _ code: ControlError.Code, _ expected: String,
        apply: @escaping (inout SSHSignatureFields) -> Void
    ) {
        self.name = name
        self.code = code
        self.expected = expected
        self.apply = apply
    }
}
