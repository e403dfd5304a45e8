import Foundation
import Support

/// The open activities of each particle (proxied HTTP exchanges and tunnels, SSH sessions and
/// `exec` commands), with the time of the last activity.
public final class ActivityTracker: Sendable {
    /// A kind of activity, as `why-awake`-style listings name it.
    public enum Kind: String, Sendable {
        case http, exec, ssh
    }

    private struct Entry {
        var open: [Kind: Int] = [:]
        var lastActivity: Date?
    }

    private let entries = Locked<[String: Entry]>([:])

    public init() {}

    /// Records the start of an activity on `particleID`; call `end` with the same values once.
    public func begin(_ particleID: String, _ kind: Kind) {
        entries.withLock { entries in
            entries[particleID, default: Entry()].open[kind, default: 0] += 1
            entries[particleID]!.lastActivity = Date()
        }
    }

    public func end(_ particleID: String, _ kind: Kind) {
        entries.withLock { entries in
            guard let count = entries[particleID]?.open[kind], count > 0 else { return }
            entries[particleID]!.open[kind] = count - 1
            entries[particleID]!.lastActivity = Date()
        }
    }

    /// Returns the number of activities open on `particleID` right now.
    public func openCount(_ particleID: String) -> Int {
        entries.withLock { $0[particleID]?.open.values.reduce(0, +) ?? 0 }
    }

    /// When an activity last started or ended on `particleID`, if any did since start.
    public func lastActivity(_ particleID: String) -> Date? {
        entries.withLock { $0[particleID]?.lastActivity }
    }

    func forget(_ particleID: String) {
        entries.withLock { $0[particleID] = nil }
    }
}
