import COpenSSL

/// Checks one SSH signature (`string algorithm`, `string signature`) against a public key blob
/// with OpenSSL's EVP interface.
///
/// Supports ssh-ed25519, ecdsa-sha2-nistp256/384/521, and ssh-rsa keys with rsa-sha2-256 or
/// rsa-sha2-512 signatures. Throws `SSHWireError` for input that is malformed or of an
/// unsupported type, and returns false when well-formed input does not verify.
enum SSHKeyVerifier {
    /// An ECDSA curve: its SSH name, its OpenSSL name, the digest RFC 5656 pairs with it, and
    /// the byte length of its order, which bounds r and s.
    private struct Curve {
        var sshName: String
        var openSSLName: String
        var digest: @Sendable () -> OpaquePointer?
        var scalarBytes: Int
    }

    private static let curves: [String: Curve] = [
        "ecdsa-sha2-nistp256": Curve(
            sshName: "nistp256", openSSLName: "prime256v1", digest: { EVP_sha256() },
            scalarBytes: 32),
        "ecdsa-sha2-nistp384": Curve(
            sshName: "nistp384", openSSLName: "secp384r1", digest: { EVP_sha384() },
            scalarBytes: 48),
        "ecdsa-sha2-nistp521": Curve(
            sshName: "nistp521", openSSLName: "secp521r1", digest: { EVP_sha512() },
            scalarBytes: 66),
    ]

    /// The RSA modulus sizes OpenSSH accepts, in bits: from SSH_RSA_MINIMUM_MODULUS_SIZE to
    /// SSHBUF_MAX_BIGNUM (2048 bytes).
    private static let rsaModulusBits = 1024...16384

    /// Verifies `signature` over `data` with the key in `publicKey`.
    static func verify(
        signature: [UInt8], publicKey: [UInt8], data: [UInt8]
    ) throws(SSHWireError) -> Bool {
        var signatureReader = SSHWireReader(signature)
        let algorithm = try signatureReader.readName(field: "signature algorithm")
        let signatureBytes = try signatureReader.readString(field: "signature")
        try signatureReader.expectEnd(of: "signature field")

        var keyReader = SSHWireReader(publicKey)
        let keyType = try keyReader.readName(field: "key type")
        if keyType == "ssh-ed25519" {
            return try verifyEd25519(algorithm, signatureBytes, &keyReader, data)
        }
        if let curve = curves[keyType] {
            return try verifyECDSA(curve, algorithm, keyType, signatureBytes, &keyReader, data)
        }
        if keyType == "ssh-rsa" {
            return try verifyRSA(algorithm, signatureBytes, &keyReader, data)
        }
        throw SSHWireError(
            description: "key type '\(SSHSignatureBlob.printable(keyType))' is not supported;"
                + " use an ed25519, ecdsa or rsa key")
    }

    private static func verifyEd25519(
        _ algorithm: String, _ signature: [UInt8], _ keyReader: inout SSHWireReader,
        _ data: [UInt8]
    ) throws(SSHWireError) -> Bool {
        try requireAlgorithm(algorithm, in: ["ssh-ed25519"])
        let point = try keyReader.readString(field: "ed25519 public key")
        try keyReader.expectEnd(of: "ed25519 public key")
        guard point.count == 32 else {
            throw SSHWireError(description: "the ed25519 public key is not 32 bytes")
        }
        guard signature.count == 64 else {
            throw SSHWireError(description: "the ed25519 signature is not 64 bytes")
        }

        let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, point, point.count)
        // Ed25519 hashes internally, so EVP_DigestVerifyInit takes no digest for it.
        return digestVerify(key: key, digest: nil, signature: signature, data: data)
    }

    private static func verifyECDSA(
        _ curve: Curve, _ algorithm: String, _ keyType: String, _ signature: [UInt8],
        _ keyReader: inout SSHWireReader, _ data: [UInt8]
    ) throws(SSHWireError) -> Bool {
        try requireAlgorithm(algorithm, in: [keyType])
        let curveName = try keyReader.readName(field: "ecdsa curve")
        guard curveName == curve.sshName else {
            let named = SSHSignatureBlob.printable(curveName)
            throw SSHWireError(
                description: "the \(keyType) key names curve '\(named)', not \(curve.sshName)")
        }
        let point = try keyReader.readString(field: "ecdsa public key")
        try keyReader.expectEnd(of: "ecdsa public key")

        // The SSH form is two mpints, but OpenSSL expects a DER ECDSA-Sig-Value.
        var signatureReader = SSHWireReader(signature)
        let r = try signatureReader.readPositiveMPInt(field: "ecdsa r", maxBytes: curve.scalarBytes)
        let s = try signatureReader.readPositiveMPInt(field: "ecdsa s", maxBytes: curve.scalarBytes)
        try signatureReader.expectEnd(of: "ecdsa signature")
        guard let der = derSignature(r: r, s: s) else { return false }

        let key = particle_ec_public_key_new(curve.openSSLName, point, point.count)
        guard key != nil else {
            ERR_clear_error()
            throw SSHWireError(description: "the ecdsa public key is not a point on \(curveName)")
        }
        return digestVerify(key: key, digest: curve.digest(), signature: der, data: data)
    }

    private static func verifyRSA(
        _ algorithm: String, _ signature: [UInt8], _ keyReader: inout SSHWireReader,
        _ data: [UInt8]
    ) throws(SSHWireError) -> Bool {
        let maxBytes = rsaModulusBits.upperBound / 8
        let exponent = try keyReader.readPositiveMPInt(field: "rsa exponent", maxBytes: maxBytes)
        let modulus = try keyReader.readPositiveMPInt(field: "rsa modulus", maxBytes: maxBytes)
        try keyReader.expectEnd(of: "rsa public key")
        let bits = modulus.count * 8 - (modulus.first?.leadingZeroBitCount ?? 0)
        guard rsaModulusBits.contains(bits) else {
            throw SSHWireError(
                description: "the rsa key has \(bits) bits; use one of 1024 to 16384 bits")
        }

        if algorithm == "ssh-rsa" {
            throw SSHWireError(
                description: "rsa signatures with SHA-1 (ssh-rsa) are not accepted; sign with"
                    + " OpenSSH 8.2 or later, which uses rsa-sha2-512")
        }
        try requireAlgorithm(algorithm, in: ["rsa-sha2-256", "rsa-sha2-512"])
        let digest = algorithm == "rsa-sha2-256" ? EVP_sha256() : EVP_sha512()

        // RSASSA-PKCS1-v1_5 signatures are as long as the modulus, but some signers drop
        // leading zero bytes. OpenSSH pads them back, and OpenSSL needs the full length.
        guard signature.count <= modulus.count else {
            throw SSHWireError(description: "the rsa signature is longer than the modulus")
        }
        let padded = [UInt8](repeating: 0, count: modulus.count - signature.count) + signature

        let key = particle_rsa_public_key_new(modulus, modulus.count, exponent, exponent.count)
        guard key != nil else {
            ERR_clear_error()
            throw SSHWireError(description: "the rsa public key is not valid")
        }
        return digestVerify(key: key, digest: digest, signature: padded, data: data)
    }

    private static func requireAlgorithm(
        _ algorithm: String, in accepted: [String]
    ) throws(SSHWireError) {
        guard accepted.contains(algorithm) else {
            throw SSHWireError(
                description: "signature algorithm '\(SSHSignatureBlob.printable(algorithm))'"
                    + " does not match the key; expected \(accepted.joined(separator: " or "))")
        }
    }

    /// Runs EVP_DigestVerify and frees `key`. Returns true only when OpenSSL reports success.
    private static func digestVerify(
        key: OpaquePointer?, digest: OpaquePointer?, signature: [UInt8], data: [UInt8]
    ) -> Bool {
        defer {
            EVP_PKEY_free(key)
            ERR_clear_error()
        }
        guard let key, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, digest, nil, key) == 1 else { return false }
        return EVP_DigestVerify(context, signature, signature.count, data, data.count) == 1
    }

    /// Encodes r and s as a DER ECDSA-Sig-Value with i2d_ECDSA_SIG.
    private static func derSignature(r: [UInt8], s: [UInt8]) -> [UInt8]? {
        guard let value = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(value) }
        let rNumber = BN_bin2bn(r, Int32(r.count), nil)
        let sNumber = BN_bin2bn(s, Int32(s.count), nil)
        // ECDSA_SIG_set0 takes ownership of both numbers only when it succeeds.
        guard rNumber != nil, sNumber != nil, ECDSA_SIG_set0(value, rNumber, sNumber) == 1 else {
            BN_free(rNumber)
            BN_free(sNumber)
            return nil
        }

        let length = i2d_ECDSA_SIG(value, nil)
        guard length > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return i2d_ECDSA_SIG(value, &cursor)
        }
        return written == length ? der : nil
    }
}
