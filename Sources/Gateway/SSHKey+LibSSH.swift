import CLibSSH

extension SSHPublicKeyInfo {
    /// Reads the type, base64 blob and SHA-256 fingerprint of a libssh key.
    ///
    /// Works for public and private keys; only the public part is read.
    init?(key: ssh_key) {
        guard let algorithm = ssh_key_type_to_char(ssh_key_type(key)).map({ String(cString: $0) }),
            let fingerprint = sha256Fingerprint(of: key)
        else { return nil }

        var blob: UnsafeMutablePointer<CChar>?
        guard ssh_pki_export_pubkey_base64(key, &blob) == SSH_OK, let blob else { return nil }
        defer { ssh_string_free_char(blob) }
        self.init(algorithm: algorithm, base64: String(cString: blob), fingerprint: fingerprint)
    }
}

/// Returns `SHA256:<base64 without padding>`, the format that `ssh-keygen -lf` prints.
func sha256Fingerprint(of key: ssh_key) -> String? {
    var hash: UnsafeMutablePointer<UInt8>?
    var length = 0
    guard ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) == SSH_OK,
        let hash
    else { return nil }
    var hashPointer: UnsafeMutablePointer<UInt8>? = hash
    defer { ssh_clean_pubkey_hash(&hashPointer) }

    guard let text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length) else {
        return nil
    }
    defer { ssh_string_free_char(text) }
    return String(cString: text)
}

/// Returns libssh's last error text for a session or bind object.
func libsshError(_ object: OpaquePointer?) -> String {
    guard let object, let text = ssh_get_error(UnsafeMutableRawPointer(object)) else {
        return "unknown libssh error"
    }
    return String(cString: text)
}
