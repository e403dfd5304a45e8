import Foundation

/// What keeps a particle awake right now, for `why-awake`.
public struct WakeReport: Sendable {
    public var particle: Particle
    public var activities: [ActivityTracker.Activity]
    public var lastActivity: Date?
    /// When the particle sleeps if nothing changes; nil when it will not (open activity, policy).
    public var sleepsAt: Date?
    /// One sentence that sums the report up.
    public var summary: String
    public var now: Date
}

extension Control {
    /// When the particle sleeps if nothing happens, or nil while activity is open or its policy
    /// keeps it running now.
    func sleepsAt(_ particle: Particle, now: Date) -> Date? {
        guard particle.status == .running, activity.openCount(particle.id) == 0 else { return nil }
        switch particle.idlePolicy {
        case .sleep: break
        case .schedule:
            let schedule = particle.idleSchedule.flatMap { try? WeeklySchedule(parsing: $0) }
            if schedule?.contains(now) == true { return nil }
        case .on, .none: return nil
        }
        let last = [activity.lastActivity(particle.id), particle.statusChangedAt, startedAt]
            .compactMap { $0 }.max()!
        return last.addingTimeInterval(TimeInterval(particle.idleTimeoutSeconds))
    }

    /// When the scheduler next wakes or starts the particle by itself: a sleeping particle's
    /// guest timer, or for policy `schedule` the next opening of a window. Nil when nothing
    /// will, or when the particle runs.
    func wakesAt(_ particle: Particle, now: Date) -> Date? {
        var times: [Date] = []
        if particle.status == .sleeping, let timer = particle.wakeAt {
            times.append(timer)
        }
        if [.sleeping, .stopped, .error].contains(particle.status), particle.idlePolicy == .schedule,
            let schedule = particle.idleSchedule.flatMap({ try? WeeklySchedule(parsing: $0) }),
            let opening = schedule.nextOpening(after: now)
        {
            times.append(opening)
        }
        return times.min()
    }

    /// Returns the part of a sleeping particle's summary that names the guest timer that wakes
    /// it, and when.
    private static func timerWake(_ particle: Particle) -> String {
        guard let wakeAt = particle.wakeAt else { return "" }
        let reason = particle.wakeReason ?? "timer"
        return ", and its guest's \(reason) wakes it at \(ISO8601DateFormatter().string(from: wakeAt))"
    }

    /// Lists what keeps the caller's particle `name` awake and when it sleeps if nothing changes.
    public func whyAwake(accountID: String, name: String) async throws -> WakeReport {
        let particle = try await self.particle(accountID: accountID, name: name)
        let now = clock()
        let activities = activity.activities(particle.id)
        let sleepsAt = sleepsAt(particle, now: now)
        let summary: String
        let hold = guestTimerHold(particle)
        switch (particle.status, particle.idlePolicy) {
        case (.sleeping, _):
            summary = "it is asleep; the next use wakes it" + Self.timerWake(particle)
        case (.stopped, _), (.error, _): summary = "it is \(particle.status.rawValue), not awake"
        case (.running, .on): summary = "policy on keeps it running"
        case (.running, .none): summary = "policy none never puts it to sleep"
        case (.running, _) where !activities.isEmpty:
            summary = "\(activities.count) open \(activities.count == 1 ? "activity keeps" : "activities keep") it awake"
        case (.running, .schedule) where sleepsAt == nil: summary = "its schedule window is open"
        case (.running, _) where hold != nil:
            let seconds = max(0, Int(sleepsAt.map { $0.timeIntervalSince(now) } ?? 0))
            summary = "its guest has a \(hold!) that keeps it awake; the guest is asked again in \(seconds) s"
        case (.running, _):
            let seconds = max(0, Int(sleepsAt.map { $0.timeIntervalSince(now) } ?? 0))
            summary = "nothing keeps it awake; it sleeps in \(seconds) s unless it is used"
        default: summary = "it is \(particle.status.rawValue)"
        }
        return WakeReport(
            particle: particle, activities: activities, lastActivity: activity.lastActivity(particle.id),
            sleepsAt: sleepsAt, summary: summary, now: now)
    }
}
