import CLibSSH

extension GuestSSH {
    /// Generates an ed25519 key pair and returns the private key in OpenSSH format
    /// ("BEGIN OPENSSH PRIVATE KEY") and the public key line `ssh-ed25519 AAAA... comment`.
    public static func generateKeyPair(comment: String) throws -> (
        privateKey: String, publicKey: String
    ) {
        var key: ssh_key?
        guard ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) == SSH_OK, let key else {
            throw GuestSSHError.invalidKey("generated key: ed25519 generation failed")
        }
        defer { ssh_key_free(key) }

        var privateText: UnsafeMutablePointer<CChar>?
        guard ssh_pki_export_privkey_base64(key, nil, nil, nil, &privateText) == SSH_OK,
            let privateText
        else {
            throw GuestSSHError.invalidKey("generated key: private key export failed")
        }
        defer { ssh_string_free_char(privateText) }

        var blob: UnsafeMutablePointer<CChar>?
        guard ssh_pki_export_pubkey_base64(key, &blob) == SSH_OK, let blob else {
            throw GuestSSHError.invalidKey("generated key: public key export failed")
        }
        defer { ssh_string_free_char(blob) }
        let publicKey = ["ssh-ed25519", String(cString: blob), comment]
            .filter { !$0.isEmpty }.joined(separator: " ")
        return (String(cString: privateText), publicKey)
    }

    /// Parses an OpenSSH public key line (`type base64 [comment]`) into a libssh key that the
    /// caller frees, and returns the host key algorithms to offer for it.
    static func importPublicKey(line: String) throws -> (key: ssh_key, algorithms: String) {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count >= 2 else {
            throw GuestSSHError.invalidKey("expected host key: not a 'type base64' line")
        }
        let type = ssh_key_type_from_name(fields[0])
        var key: ssh_key?
        guard type != SSH_KEYTYPE_UNKNOWN,
            ssh_pki_import_pubkey_base64(fields[1], type, &key) == SSH_OK, let key
        else {
            throw GuestSSHError.invalidKey("expected host key: cannot decode '\(fields[0])' key")
        }
        // An RSA key signs with SHA-2 in current OpenSSH; "ssh-rsa" (SHA-1) is disabled there.
        let algorithms = type == SSH_KEYTYPE_RSA ? "rsa-sha2-512,rsa-sha2-256" : fields[0]
        return (key, algorithms)
    }

    static func importPrivateKey(_ text: String) throws -> ssh_key {
        var key: ssh_key?
        guard ssh_pki_import_privkey_base64(text, nil, nil, nil, &key) == SSH_OK, let key else {
            throw GuestSSHError.invalidKey("private key: not an unencrypted OpenSSH or PEM key")
        }
        return key
    }

    /// Returns the `SHA256:...` fingerprint of a key, as `ssh-keygen -lf` prints it.
    static func fingerprint(of key: ssh_key) -> String {
        var hash: UnsafeMutablePointer<UInt8>?
        var length = 0
        guard ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) == SSH_OK,
            let hash
        else { return "unknown" }
        var hashPointer: UnsafeMutablePointer<UInt8>? = hash
        defer { ssh_clean_pubkey_hash(&hashPointer) }
        guard let text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length) else {
            return "unknown"
        }
        defer { ssh_string_free_char(text) }
        return String(cString: text)
    }
}
