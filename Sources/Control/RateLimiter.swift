import Foundation
import Support

/// Token buckets per key (an account, a source address): `capacity` requests at once, refilled
/// at `capacity` per `period`.
public final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Date
    }

    public let capacity: Int
    public let period: TimeInterval
    private let buckets = Locked<[String: Bucket]>([:])

    public init(capacity: Int, period: TimeInterval) {
        self.capacity = capacity
        self.period = period
    }

    /// Takes one token for `key`; returns nil when allowed, or how long to wait when not.
    public func take(_ key: String, now: Date = Date()) -> TimeInterval? {
        let rate = Double(capacity) / period
        return buckets.withLock { buckets in
            if buckets.count > 100_000 {
                // Drop full buckets so that many one-off keys cannot grow the table without end.
                buckets = buckets.filter { $0.value.tokens + now.timeIntervalSince($0.value.updated) * rate < Double(capacity) }
            }
            var bucket = buckets[key] ?? Bucket(tokens: Double(capacity), updated: now)
            bucket.tokens = min(Double(capacity), bucket.tokens + now.timeIntervalSince(bucket.updated) * rate)
            bucket.updated = now
            defer { buckets[key] = bucket }
            guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / rate }
            bucket.tokens -= 1
            return nil
        }
    }
}
