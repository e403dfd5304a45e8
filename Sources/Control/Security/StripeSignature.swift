import Foundation

/// Verification of the `Stripe-Signature` header that Stripe sends with each webhook event.
///
/// The header is `t=<unix seconds>,v1=<hex>[,v1=<hex>...]` (other schemes such as `v0` may
/// appear and are ignored). Each `v1` is HMAC-SHA256 keyed with the endpoint's signing secret
/// over `"<t>.<raw body>"`, and several appear while a secret is being rolled. This matches
/// `Stripe::Webhook::Signature.verify_header` in Stripe's Ruby library (the `stripe` gem).
public enum StripeSignature {
    /// How far the header's timestamp may be from now, in either direction: five minutes.
    public static let tolerance: TimeInterval = 300

    /// Checks `header` against `payload`; throws `.invalidArgument` naming what failed.
    public static func verify(
        header: String?, payload: [UInt8], secret: String, now: Date,
        tolerance: TimeInterval = tolerance
    ) throws(ControlError) {
        guard let header, !header.isEmpty else {
            throw .invalidArgument("missing Stripe-Signature header")
        }
        var timestamp: Int64?
        var signatures: [[UInt8]] = []
        for item in header.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let key = pair[0].trimmingCharacters(in: .whitespaces)
            let value = pair[1].trimmingCharacters(in: .whitespaces)
            if key == "t" { timestamp = Int64(value) }
            if key == "v1" { signatures.append(Array(value.lowercased().utf8)) }
        }
        guard let timestamp else {
            throw .invalidArgument("invalid Stripe-Signature header: no timestamp t=")
        }
        guard !signatures.isEmpty else {
            throw .invalidArgument("invalid Stripe-Signature header: no v1 signature")
        }
        let age = now.timeIntervalSince1970 - Double(timestamp)
        guard abs(age) <= tolerance else {
            throw .invalidArgument(
                "invalid Stripe-Signature: timestamp \(timestamp) is \(Int(age)) s from now,"
                    + " outside the tolerance of \(Int(tolerance)) s")
        }
        let expected = Array(signature(payload: payload, secret: secret, timestamp: timestamp).utf8)
        var matched = false
        for candidate in signatures {
            // Compare every candidate so that timing does not show which one matched.
            if Digest.constantTimeEqual(candidate, expected) { matched = true }
        }
        guard matched else {
            throw .invalidArgument("invalid Stripe-Signature: no v1 signature matches the payload")
        }
    }

    /// Returns the lowercase hex HMAC-SHA256 of `"<timestamp>.<payload>"` keyed with `secret`.
    public static func signature(payload: [UInt8], secret: String, timestamp: Int64) -> String {
        let message = Array("\(timestamp).".utf8) + payload
        return Digest.hex(Digest.hmacSHA256(key: Array(secret.utf8), message: message))
    }
}
