import Foundation
import Support
import Testing

@testable import Control

@Suite struct SSHSignatureTests {
    let challenge = Array("particle-challenge 3f9c2a71\n".utf8)

    @Test(arguments: SSHKeyType.allCases)
    func goodSignatureVerifies(type: SSHKeyType) throws {
        let keys = try SSHKeyDirectory()
        defer { keys.remove() }
        let key = try keys.makeKey(type)
        let armored = try keys.sign(challenge, keyPath: key.path)

        let error = verificationError {
            try SSHSignature.verify(
                armored: armored, publicKey: key.publicKey, namespace: "particle",
                message: challenge)
        }
        #expect(error == nil)
    }

    @Test func crlfAndSurroundingWhitespace() throws {
        let keys = try SSHKeyDirectory()
        defer { keys.remove() }
        let key = try keys.makeKey(.ed25519)
        let armored = try keys.sign(challenge, keyPath: key.path)
        let pasted = "  \r\n" + armored.replacingOccurrences(of: "\n", with: "\r\n") + " \t\r\n"

        let error = verificationError {
            try SSHSignature.verify(
                armored: pasted, publicKey: key.publicKey, namespace: "particle",
                message: challenge)
        }
        #expect(error == nil)
    }

    @Test(arguments: SSHKeyType.allCases)
    func wrongMessageUnauthorized(type: SSHKeyType) throws {
        let keys = try SSHKeyDirectory()
        defer { keys.remove() }
        let key = try keys.makeKey(type)
        let armored = try keys.sign(challenge, keyPath: key.path)

        let error = verificationError {
            try SSHSignature.verify(
                armored: armored, publicKey: key.publicKey, namespace: "particle",
                message: challenge + [0x0A])
        }
        #expect(error?.code == .unauthorized)
        #expect(error?.message.contains("does not match the message") == true)
    }

    @Test(arguments: [SSHKeyType.ed25519, .ecdsa256, .rsa3072])
    func wrongNamespaceUnauthorized(type: SSHKeyType) throws {
        let keys = try SSHKeyDirectory()
        defer { keys.remove() }
        let key = try keys.makeKey(type)
        let armored = try keys.sign(challenge, keyPath: key.path, namespace: "git")

        let error = verificationError {
            try SSHSignature.verify(
                armored: armored, publicKey: key.publicKey, namespace: "particle",
                message: challenge)
        }
        #expect(error?.code == .unauthorized)
        #expect(error?.message.contains("namespace 'git', not 'particle'") == true)
    }

    @Test(arguments: [SSHKeyType.ed25519, .ecdsa256, .rsa3072])
    func otherKeyUnauthorized(type: SSHKeyType) throws {
        let keys = try SSHKeyDirectory()
        defer { keys.remove() }
        let registered = try keys.makeKey(type, name: "registered")
        let other = try keys.makeKey(type, name: "other")
        let armored = try keys.sign(challenge, keyPath: other.path)

        let error = verificationError {
            try SSHSignature.verify(
                armored: armored, publicKey: registered.publicKey, namespace: "particle",
                message: challenge)
        }
        #expect(error?.code == .unauthorized)
        #expect(error?.message.contains(other.publicKey.fingerprint) == true)
    }

    /// Another key's valid signature, relabelled with the registered key, passes the key and
    /// namespace checks, so only the cryptographic check can reject it.
    @Test(arguments: [SSHKeyType.ed25519, .ecdsa256, .rsa3072])
    func forgedKeyFieldUnauthorized(type: SSHKeyType) throws {
        let keys = try SSHKeyDirectory()
        defer { keys.remove() }
        let registered = try keys.makeKey(type, name: "registered")
        let other = try keys.makeKey(type, name: "other")
        var fields = try SSHSignatureFields(armored: keys.sign(challenge, keyPath: other.path))
        fields.publicKey = try #require(Data(base64Encoded: registered.publicKey.base64)).map { $0 }

        let error = verificationError {
            try SSHSignature.verify(
                armored: fields.armored, publicKey: registered.publicKey, namespace: "particle",
                message: challenge)
        }
        #expect(error?.code == .unauthorized)
        #expect(error?.message.contains("does not match the message") == true)
    }

    /// Flips every bit of the blob in turn. Each change must be rejected, and none may crash.
    @Test(arguments: [SSHKeyType.ed25519, .ecdsa256, .rsa3072])
    func flippedBitsRejected(type: SSHKeyType) throws {
        let keys = try SSHKeyDirectory()
        defer { keys.remove() }
        let key = try keys.makeKey(type)
        let blob = try SSHSignatureFields(armored: keys.sign(challenge, keyPath: key.path)).blob

        var accepted: [String] = []
        var unexpectedCodes: [String] = []
        for index in blob.indices {
            for bit in 0..<8 {
                var flipped = blob
                flipped[index] ^= 1 << bit
                let error = verificationError {
                    try SSHSignature.verify(
                        armored: SSHSignatureFields.armor(flipped), publicKey: key.publicKey,
                        namespace: "particle", message: challenge)
                }
                guard let error else {
                    accepted.append("byte \(index) bit \(bit)")
                    continue
                }
                if error.code != .invalidArgument && error.code != .unauthorized {
                    unexpectedCodes.append("byte \(index) bit \(bit): \(error.code)")
                }
            }
        }
        #expect(accepted.isEmpty, "\(accepted.count) flips verified: \(accepted.prefix(4)) ...")
        #expect(unexpectedCodes.isEmpty, "\(unexpectedCodes.count): \(unexpectedCodes.prefix(4))")
    }

    /// Cuts the blob at every length and appends a byte: each must be rejected as malformed.
    @Test(arguments: [SSHKeyType.ed25519, .ecdsa256, .rsa3072])
    func truncatedOrExtendedBlobInvalid(type: SSHKeyType) throws {
        let keys = try SSHKeyDirectory()
        defer { keys.remove() }
        let key = try keys.makeKey(type)
        let blob = try SSHSignatureFields(armored: keys.sign(challenge, keyPath: key.path)).blob

        var notInvalid: [String] = []
        for candidate in blob.indices.map({ Array(blob[..<$0]) }) + [blob + [0]] {
            let error = verificationError {
                try SSHSignature.verify(
                    armored: SSHSignatureFields.armor(candidate), publicKey: key.publicKey,
                    namespace: "particle", message: challenge)
            }
            if error?.code != .invalidArgument {
                notInvalid.append("\(candidate.count) bytes: \(String(describing: error?.code))")
            }
        }
        #expect(notInvalid.isEmpty, "\(notInvalid.count): \(notInvalid.prefix(4)) ...")
    }
}
