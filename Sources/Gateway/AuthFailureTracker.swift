import Foundation
import Synchronization

/// Failed authentications per source address over a sliding window, shared by every
/// connection of one server.
///
/// An address that reaches `limit` failures within `window` is turned away until its oldest
/// counted failure leaves the window.
final class AuthFailureTracker: Sendable {
    let limit: Int
    let window: Duration
    /// The failure times per address, oldest first, at most `limit` of them.
    private let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])

    init(limit: Int, window: Duration) {
        self.limit = max(1, limit)
        self.window = window
    }

    /// Counts one failure of `host`; returns how long it is now blocked, or nil if it is not.
    func record(_ host: String, now: ContinuousClock.Instant = .now) -> TimeInterval? {
        failures.withLock { failures in
            if failures.count > 100_000 { Self.dropExpired(&failures, now: now, window: window) }
            var times = failures[host, default: []].filter { now - $0 < window }
            times.append(now)
            if times.count > limit { times.removeFirst(times.count - limit) }
            failures[host] = times
            return Self.blockedTime(times, limit: limit, window: window, now: now)
        }
    }

    /// Returns how long `host` stays blocked, or nil if it may authenticate.
    func blockedFor(_ host: String, now: ContinuousClock.Instant = .now) -> TimeInterval? {
        failures.withLock { failures in
            guard let times = failures[host] else { return nil }
            return Self.blockedTime(times, limit: limit, window: window, now: now)
        }
    }

    private static func blockedTime(
        _ times: [ContinuousClock.Instant], limit: Int, window: Duration,
        now: ContinuousClock.Instant
    ) -> TimeInterval? {
        let recent = times.filter { now - $0 < window }
        guard recent.count >= limit, let oldest = recent.first else { return nil }
        let remaining = window - (now - oldest)
        return Double(remaining.components.seconds)
            + Double(remaining.components.attoseconds) / 1e18
    }

    /// Forgets addresses whose failures all left the window, so that many one-off addresses
    /// cannot grow the table without end.
    private static func dropExpired(
        _ failures: inout [String: [ContinuousClock.Instant]], now: ContinuousClock.Instant,
        window: Duration
    ) {
        failures = failures.filter { _, times in times.contains { now - $0 < window } }
    }
}
