import Foundation
import Support

/// The open activities of each particle (proxied HTTP exchanges and tunnels, SSH sessions and
/// forwarded channels, `exec` commands), with the time of the last activity. The idle policy
/// reads it to decide when a particle sleeps, and `why-awake` lists it.
public final class ActivityTracker: Sendable {
    /// A kind of activity, as `why-awake` names it.
    public enum Kind: String, Sendable {
        case http, exec, ssh
    }

    /// One activity that is open now.
    public struct Activity: Sendable, Equatable {
        public var id: UInt64
        public var kind: Kind
        /// What it is, for people: "GET /index.html", "key laptop, port 22".
        public var detail: String
        public var startedAt: Date
    }

    private struct Entry {
        var open: [UInt64: Activity] = [:]
        var lastActivity: Date?
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var nextID: UInt64 = 1
    }

    private let state = Locked(State())
    private let clock: @Sendable () -> Date

    public init(clock: @escaping @Sendable () -> Date = { Date() }) {
        self.clock = clock
    }

    /// Records the start of an activity on `particleID` and returns its id for `end(_:id:)`.
    @discardableResult
    public func begin(_ particleID: String, _ kind: Kind, detail: String = "") -> UInt64 {
        let now = clock()
        return state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.entries[particleID, default: Entry()].open[id] = Activity(
                id: id, kind: kind, detail: detail, startedAt: now)
            state.entries[particleID]!.lastActivity = now
            return id
        }
    }

    /// Ends the activity `id` of `particleID`.
    public func end(_ particleID: String, id: UInt64) {
        let now = clock()
        state.withLock { state in
            guard state.entries[particleID]?.open.removeValue(forKey: id) != nil else { return }
            state.entries[particleID]!.lastActivity = now
        }
    }

    /// Ends the oldest open activity of `kind` on `particleID`, for callers that keep no id.
    public func end(_ particleID: String, _ kind: Kind) {
        let oldest = state.withLock { state in
            state.entries[particleID]?.open.values.filter { $0.kind == kind }.min { $0.id < $1.id }?.id
        }
        if let oldest { end(particleID, id: oldest) }
    }

    /// Ends every open activity of `particleID`, for a guest that is gone; returns how many
    /// were open.
    @discardableResult
    public func endAll(_ particleID: String) -> Int {
        let now = clock()
        return state.withLock { state in
            guard let count = state.entries[particleID]?.open.count, count > 0 else { return 0 }
            state.entries[particleID]!.open = [:]
            state.entries[particleID]!.lastActivity = now
            return count
        }
    }

    /// Counts as activity on `particleID` now, without opening any (a wake, a start).
    public func touch(_ particleID: String) {
        let now = clock()
        state.withLock { $0.entries[particleID, default: Entry()].lastActivity = now }
    }

    /// Returns the number of activities open on `particleID` right now.
    public func openCount(_ particleID: String) -> Int {
        state.withLock { $0.entries[particleID]?.open.count ?? 0 }
    }

    /// The activities open on `particleID`, oldest first.
    public func activities(_ particleID: String) -> [Activity] {
        state.withLock { $0.entries[particleID]?.open.values.sorted { $0.id < $1.id } ?? [] }
    }

    /// When an activity last started or ended on `particleID`, if any did since start.
    public func lastActivity(_ particleID: String) -> Date? {
        state.withLock { $0.entries[particleID]?.lastActivity }
    }

    func forget(_ particleID: String) {
        state.withLock { $0.entries[particleID] = nil }
    }
}
