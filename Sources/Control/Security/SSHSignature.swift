import Foundation

/// Verification of OpenSSH `SSHSIG` signatures, the armored text that
/// `ssh-keygen -Y sign -f KEY -n NAMESPACE < FILE` prints.
///
/// Account creation uses it to check that the caller owns the private key of the public key
/// being registered, because only that key can sign the challenge that the server issued. The format is
/// OpenSSH's PROTOCOL.sshsig (revision 1.4, 2020), and the cryptography is OpenSSL's EVP
/// interface.
public enum SSHSignature {
    /// The armor lines that open and close a signature.
    static let beginLine = "-----BEGIN SSH SIGNATURE-----"
    static let endLine = "-----END SSH SIGNATURE-----"

    /// The longest armored text accepted, in bytes. A signature by a 16384-bit RSA key, the
    /// largest OpenSSH makes, has a blob of 4,183 bytes and about 5,700 bytes of armor.
    static let maxArmoredBytes = 16_384

    /// Verifies `armored` (the text `ssh-keygen -Y sign` prints) as a signature by `publicKey`
    /// over `message` in `namespace`.
    ///
    /// Accepts ssh-ed25519, ecdsa-sha2-nistp256/384/521, and ssh-rsa keys with rsa-sha2-256 or
    /// rsa-sha2-512 signatures, over a message hashed with sha256 or sha512.
    ///
    /// - Throws: `ControlError` with code `.invalidArgument` when the signature is malformed:
    ///   bad armor, base64, magic, version or field, or an unsupported algorithm. The message
    ///   names which. Throws `.unauthorized` when the signature is well-formed but made by
    ///   another key, for another namespace, or does not verify over `message`.
    public static func verify(
        armored: String, publicKey: SSHPublicKey, namespace: String, message: [UInt8]
    ) throws(ControlError) {
        let blob: SSHSignatureBlob
        do {
            blob = try SSHSignatureBlob(parsing: decodeArmor(armored))
        } catch {
            throw invalidSignature(error.description, namespace: namespace)
        }
        guard let keyBlob = Data(base64Encoded: publicKey.base64).map({ [UInt8]($0) }) else {
            throw .invalidArgument(
                "invalid public key: the data after '\(publicKey.algorithm)' is not base64")
        }

        // Compare the key and namespace before any cryptography, so that a valid signature
        // by another key or for another purpose never counts.
        guard blob.publicKey == keyBlob else {
            throw ControlError(
                .unauthorized,
                "the SSH signature was made by key \(fingerprint(of: blob.publicKey)), not by"
                    + " \(publicKey.fingerprint); sign with the private key of the key you register"
            )
        }
        guard blob.namespace == Array(namespace.utf8) else {
            let signedNamespace = SSHSignatureBlob.printable(
                String(decoding: blob.namespace, as: UTF8.self))
            throw ControlError(
                .unauthorized,
                "the SSH signature is for namespace '\(signedNamespace)', not '\(namespace)';"
                    + " sign with `ssh-keygen -Y sign -n \(namespace)`")
        }

        let verified: Bool
        do {
            verified = try SSHKeyVerifier.verify(
                signature: blob.signature, publicKey: keyBlob,
                data: blob.signedData(message: message))
        } catch {
            throw invalidSignature(error.description, namespace: namespace)
        }
        guard verified else {
            throw ControlError(
                .unauthorized,
                "the SSH signature by key \(publicKey.fingerprint) does not match the message;"
                    + " sign the challenge exactly as issued, without changing its bytes")
        }
    }

    /// Extracts the blob between the armor lines. Tolerates CRLF line ends, whitespace around
    /// the armor and inside the base64 text.
    static func decodeArmor(_ armored: String) throws(SSHWireError) -> [UInt8] {
        guard armored.utf8.count <= maxArmoredBytes else {
            throw SSHWireError(
                description: "the armored text is over \(maxArmoredBytes) bytes")
        }
        let text = armored.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix(beginLine) else {
            throw SSHWireError(description: "the armor does not start with '\(beginLine)'")
        }
        guard text.hasSuffix(endLine), text.count >= beginLine.count + endLine.count else {
            throw SSHWireError(description: "the armor does not end with '\(endLine)'")
        }

        let body = text.dropFirst(beginLine.count).dropLast(endLine.count)
        let base64 = String(
            body.unicodeScalars.filter { !CharacterSet.whitespacesAndNewlines.contains($0) })
        guard !base64.isEmpty else {
            throw SSHWireError(description: "the armor contains no signature data")
        }
        guard let data = Data(base64Encoded: base64) else {
            throw SSHWireError(description: "the text inside the armor is not valid base64")
        }
        return [UInt8](data)
    }

    private static func invalidSignature(_ reason: String, namespace: String) -> ControlError {
        .invalidArgument(
            "invalid SSH signature: \(reason); pass the whole output of"
                + " `ssh-keygen -Y sign -f KEY -n \(namespace)`")
    }

    private static func fingerprint(of keyBlob: [UInt8]) -> String {
        SSHPublicKey(algorithm: "", base64: Data(keyBlob).base64EncodedString()).fingerprint
    }
}
