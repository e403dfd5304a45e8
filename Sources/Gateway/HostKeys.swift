import CLibSSH
import Foundation
import Glibc
import Support

/// The server's host keys: one file per algorithm, generated on first start and reused after.
struct HostKeys {
    /// One host key algorithm with the file name OpenSSH's `sshd` uses for it.
    struct Kind {
        let type: ssh_keytypes_e
        let bits: Int32
        let fileName: String
    }

    static let kinds = [
        Kind(type: SSH_KEYTYPE_ED25519, bits: 0, fileName: "ssh_host_ed25519_key"),
        Kind(type: SSH_KEYTYPE_ECDSA_P256, bits: 256, fileName: "ssh_host_ecdsa_key"),
        Kind(type: SSH_KEYTYPE_RSA, bits: 3072, fileName: "ssh_host_rsa_key"),
    ]

    /// Paths of the private key files, in the order of `kinds`.
    let paths: [String]
    /// The public key of each file, in the same order.
    let publicKeys: [SSHPublicKeyInfo]

    /// Loads the host keys in `directory`, generating any that are missing.
    ///
    /// The directory is created with mode 0700 and each key file has mode 0600; a key file
    /// that other users can read is tightened to 0600 with a warning.
    static func loadOrGenerate(in directory: String, logger: Logger) throws -> HostKeys {
        try createDirectory(directory)
        var paths: [String] = []
        var publicKeys: [SSHPublicKeyInfo] = []
        for kind in kinds {
            let path = (directory as NSString).appendingPathComponent(kind.fileName)
            if !FileManager.default.fileExists(atPath: path) {
                try generate(kind, at: path)
                logger.info("generated host key", ["path": path])
            }
            try restrictMode(of: path, logger: logger)
            paths.append(path)
            publicKeys.append(try loadPublicKey(at: path))
        }
        return HostKeys(paths: paths, publicKeys: publicKeys)
    }

    private static func createDirectory(_ directory: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw GatewayError.hostKey(
                path: directory, "cannot create the host key directory",
                cause: "\(error)")
        }
    }

    /// Generates a key and writes it through a temporary file created 0600, so that the key
    /// is never readable by others, not even briefly.
    private static func generate(_ kind: Kind, at path: String) throws {
        var key: ssh_key?
        guard ssh_pki_generate(kind.type, kind.bits, &key) == SSH_OK, let key else {
            throw GatewayError.hostKey(path: path, "key generation failed")
        }
        defer { ssh_key_free(key) }
        var text: UnsafeMutablePointer<CChar>?
        guard ssh_pki_export_privkey_base64(key, nil, nil, nil, &text) == SSH_OK, let text else {
            throw GatewayError.hostKey(path: path, "key export failed")
        }
        defer { ssh_string_free_char(text) }

        let temporaryPath = path + ".tmp"
        unlink(temporaryPath)
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw GatewayError.hostKey(path: path, "cannot create", cause: errnoText())
        }
        let length = strlen(text)
        let written = write(fd, text, length)
        let syncFailed = fsync(fd) != 0
        close(fd)
        guard written == length, !syncFailed, rename(temporaryPath, path) == 0 else {
            let cause = errnoText()
            unlink(temporaryPath)
            throw GatewayError.hostKey(path: path, "cannot write", cause: cause)
        }
    }

    private static func restrictMode(of path: String, logger: Logger) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw GatewayError.hostKey(path: path, "cannot read", cause: errnoText())
        }
        guard info.st_mode & 0o077 != 0 else { return }
        logger.warning(
            "host key readable by other users; changing its mode to 0600", ["path": path])
        guard chmod(path, 0o600) == 0 else {
            throw GatewayError.hostKey(path: path, "cannot change mode to 0600", cause: errnoText())
        }
    }

    private static func loadPublicKey(at path: String) throws -> SSHPublicKeyInfo {
        var key: ssh_key?
        guard ssh_pki_import_privkey_file(path, nil, nil, nil, &key) == SSH_OK, let key else {
            throw GatewayError.hostKey(
                path: path,
                "not a readable unencrypted private key; move it away to generate a new one")
        }
        defer { ssh_key_free(key) }
        guard let info = SSHPublicKeyInfo(key: key) else {
            throw GatewayError.hostKey(path: path, "cannot compute the fingerprint")
        }
        return info
    }
}

/// Returns the text of the current `errno`.
func errnoText() -> String {
    String(cString: strerror(errno))
}
