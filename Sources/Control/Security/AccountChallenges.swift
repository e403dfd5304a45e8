import Foundation
import Support

/// Short-lived, single-use challenges that a client signs to prove it has an SSH private key.
///
/// A challenge is `particle-account-v1:<expiry>:<nonce>:<mac>`, where the MAC is an
/// HMAC-SHA256 over the expiry and nonce with a secret made at start. The server keeps no state
/// until a challenge is used; used ones are remembered until they expire so none works twice.
public final class AccountChallenges: Sendable {
    public static let lifetime: TimeInterval = 300
    public static let prefix = "particle-account-v1"

    private let secret = RandomID.randomBytes(32)
    private let used = Locked<[String: Date]>([:])

    public init() {}

    /// Issues a new challenge and returns it with its expiry time.
    public func issue(now: Date = Date()) -> (challenge: String, expiresAt: Date) {
        let expiry = Int64(now.timeIntervalSince1970 + Self.lifetime)
        let nonce = RandomID.hex(32)
        let mac = Digest.hex(Digest.hmacSHA256(key: secret, message: Array("\(expiry):\(nonce)".utf8)))
        return ("\(Self.prefix):\(expiry):\(nonce):\(mac)", Date(timeIntervalSince1970: Double(expiry)))
    }

    /// Marks `challenge` as used if it is valid now; it then never validates again.
    public func redeem(_ challenge: String, now: Date = Date()) throws(ControlError) {
        let expiry = try check(challenge, now: now)
        let fresh = used.withLock { used in
            used = used.filter { $0.value > now }
            guard used[challenge] == nil else { return false }
            used[challenge] = expiry
            return true
        }
        guard fresh else {
            throw ControlError(.unauthorized, "the challenge was already used; \(Self.hint)")
        }
    }

    static let hint = "request a new one (GET /v1/accounts/challenge or `keys challenge`)"

    /// Checks that this server issued `challenge`, that it has not expired and was not used;
    /// returns its expiry.
    @discardableResult
    public func check(_ challenge: String, now: Date = Date()) throws(ControlError) -> Date {
        let parts = challenge.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let hint = Self.hint
        guard parts.count == 4, parts[0] == Self.prefix, let expiry = Int64(parts[1]) else {
            throw .invalidArgument("invalid challenge; \(hint)")
        }
        let expected = Digest.hmacSHA256(key: secret, message: Array("\(parts[1]):\(parts[2])".utf8))
        guard Digest.constantTimeEqual(Array(Digest.hex(expected).utf8), Array(parts[3].utf8)) else {
            throw ControlError(.unauthorized, "the challenge was not issued by this server; \(hint)")
        }
        guard Double(expiry) > now.timeIntervalSince1970 else {
            throw ControlError(.unauthorized, "the challenge has expired; \(hint)")
        }
        guard used.withLock({ $0[challenge] == nil }) else {
            throw ControlError(.unauthorized, "the challenge was already used; \(hint)")
        }
        return Date(timeIntervalSince1970: Double(expiry))
    }
}
