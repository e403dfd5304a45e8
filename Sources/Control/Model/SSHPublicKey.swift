import COpenSSL
import Foundation

/// An SSH public key in OpenSSH's one-line form: `algorithm base64 [comment]`.
public struct SSHPublicKey: Sendable, Equatable {
    public static let supportedAlgorithms = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "ssh-rsa", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    ]

    public var algorithm: String
    /// The key blob (RFC 4253 wire format), base64-encoded.
    public var base64: String
    public var comment: String

    /// The key without its comment, as `authorized_keys` and fingerprints use it.
    public var line: String { "\(algorithm) \(base64)" }
    /// The key with its comment, as the user gave it.
    public var lineWithComment: String { comment.isEmpty ? line : "\(line) \(comment)" }

    /// The SHA-256 fingerprint, formatted as `ssh-keygen -lf` prints it.
    public var fingerprint: String {
        let blob = [UInt8](Data(base64Encoded: base64) ?? Data())
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        SHA256(blob, blob.count, &digest)
        let encoded = Data(digest).base64EncodedString()
        return "SHA256:" + encoded.trimmingCharacters(in: CharacterSet(charactersIn: "="))
    }

    public init(algorithm: String, base64: String, comment: String = "") {
        self.algorithm = algorithm
        self.base64 = base64
        self.comment = comment
    }

    /// Parses one `authorized_keys`-style line; the error names what is wrong with it.
    public init(parsing text: String) throws(ControlError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let fields = trimmed.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        let hint = "paste one line of a .pub file, like 'ssh-ed25519 AAAA... you@host'"
        guard fields.count >= 2 else {
            throw .invalidArgument("invalid public key '\(Self.abbreviate(trimmed))'; \(hint)")
        }
        let algorithm = String(fields[0])
        guard Self.supportedAlgorithms.contains(algorithm) else {
            throw .invalidArgument(
                "unsupported key type '\(Self.abbreviate(algorithm))'; use an ed25519, ecdsa or rsa"
                    + " key (ssh-keygen -t ed25519)")
        }
        guard let blob = Data(base64Encoded: String(fields[1])), blob.count > 8,
            Self.blobAlgorithm(blob) == algorithm
        else {
            throw .invalidArgument(
                "invalid public key: the data after '\(algorithm)' is not a valid \(algorithm)"
                    + " key; \(hint)")
        }
        self.init(
            algorithm: algorithm, base64: String(fields[1]),
            comment: fields.count > 2 ? String(fields[2]) : "")
    }

    /// Reads the algorithm name that starts every key blob (a uint32 length, then the name).
    private static func blobAlgorithm(_ blob: Data) -> String? {
        let bytes = [UInt8](blob)
        let length = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        guard length > 0, 4 + length <= bytes.count else { return nil }
        return String(bytes: bytes[4..<(4 + length)], encoding: .utf8)
    }

    private static func abbreviate(_ text: String) -> String {
        text.count > 40 ? text.prefix(37) + "..." : text
    }
}
