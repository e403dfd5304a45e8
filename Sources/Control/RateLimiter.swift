import Foundation
import Synchronization

/// Counts events per key in a sliding window, in memory, so a restart clears the counts.
final class RateLimiter: Sendable {
    let limit: Int
    let window: TimeInterval
    private let events = Mutex<[String: [Date]]>([:])

    init(limit: Int, window: Duration) {
        self.limit = limit
        self.window = Double(window.components.seconds)
    }

    /// Records an event for `key` and returns nil, or returns the seconds until one is allowed
    /// again when `key` already had `limit` events inside the window.
    func acquire(_ key: String, now: Date) -> Int? {
        events.withLock { events in
            let cutoff = now.addingTimeInterval(-window)
            if events.count > 1000 {
                events = events.compactMapValues { times in
                    let kept = times.filter { $0 > cutoff }
                    return kept.isEmpty ? nil : kept
                }
            }
            var times = (events[key] ?? []).filter { $0 > cutoff }
            if times.count >= limit, let oldest = times.first {
                events[key] = times
                return max(
                    1, Int(oldest.addingTimeInterval(window).timeIntervalSince(now).rounded(.up)))
            }
            times.append(now)
            events[key] = times
            return nil
        }
    }
}
