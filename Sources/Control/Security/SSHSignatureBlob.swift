import COpenSSL

/// The fields of an OpenSSH `SSHSIG` signature blob, as `ssh-keygen -Y sign` makes it.
///
/// The layout follows OpenSSH's PROTOCOL.sshsig (revision 1.4, 2020): the 6-byte preamble
/// "SSHSIG", a `uint32` version, then the strings publickey, namespace, reserved,
/// hash_algorithm and signature.
struct SSHSignatureBlob: Sendable, Equatable {
    static let preamble = Array("SSHSIG".utf8)
    static let version: UInt32 = 1

    /// The signer's public key blob in RFC 4253 wire format.
    var publicKey: [UInt8]
    var namespace: [UInt8]
    /// Bytes reserved for future use. They are signed but otherwise ignored.
    var reserved: [UInt8]
    /// The hash applied to the message before signing: "sha256" or "sha512".
    var hashAlgorithm: String
    /// The SSH signature of the signed data: `string algorithm`, then `string signature`.
    var signature: [UInt8]

    /// Parses `bytes`, rejecting a wrong preamble or version, a truncated field and trailing bytes.
    init(parsing bytes: [UInt8]) throws(SSHWireError) {
        var reader = SSHWireReader(bytes)
        let magic = try reader.readBytes(Self.preamble.count, field: "magic preamble")
        guard magic == Self.preamble else {
            throw SSHWireError(description: "the blob does not start with the magic 'SSHSIG'")
        }
        let version = try reader.readUInt32(field: "version")
        guard version == Self.version else {
            throw SSHWireError(
                description: "version \(version) is not supported, only version \(Self.version)")
        }

        publicKey = try reader.readString(field: "publickey")
        namespace = try reader.readString(field: "namespace")
        reserved = try reader.readString(field: "reserved")
        hashAlgorithm = try reader.readName(field: "hash_algorithm")
        signature = try reader.readString(field: "signature")
        try reader.expectEnd(of: "blob")

        guard !namespace.isEmpty else {
            throw SSHWireError(description: "the namespace field is empty")
        }
        guard hashAlgorithm == "sha256" || hashAlgorithm == "sha512" else {
            throw SSHWireError(
                description: "hash algorithm '\(Self.printable(hashAlgorithm))' is not supported,"
                    + " only sha256 and sha512")
        }
    }

    /// Builds the bytes the signature covers: the preamble, then the strings namespace,
    /// reserved, hash_algorithm and the hash of `message`.
    func signedData(message: [UInt8]) -> [UInt8] {
        var data = Self.preamble
        Self.appendString(namespace, to: &data)
        Self.appendString(reserved, to: &data)
        Self.appendString(Array(hashAlgorithm.utf8), to: &data)
        Self.appendString(Self.hash(message, algorithm: hashAlgorithm), to: &data)
        return data
    }

    private static func appendString(_ value: [UInt8], to data: inout [UInt8]) {
        let length = UInt32(value.count)
        data += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: length >> $0) }
        data += value
    }

    /// Hashes `message` with SHA-256 or SHA-512, the two values `init` accepts for `algorithm`.
    private static func hash(_ message: [UInt8], algorithm: String) -> [UInt8] {
        if algorithm == "sha256" {
            var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
            SHA256(message, message.count, &digest)
            return digest
        }
        var digest = [UInt8](repeating: 0, count: Int(SHA512_DIGEST_LENGTH))
        SHA512(message, message.count, &digest)
        return digest
    }

    /// Shortens `text` and replaces every character outside printable ASCII with "?", so a
    /// hostile value is safe to put in an error message.
    static func printable(_ text: String) -> String {
        let cleaned = String(
            text.unicodeScalars.map { (0x20...0x7E).contains($0.value) ? Character($0) : "?" })
        return cleaned.count > 40 ? cleaned.prefix(37) + "..." : cleaned
    }
}
