import Foundation

/// A guest timer that kept an idle particle awake, and the activity time it set.
struct GuestTimerHold: Sendable {
    /// The due timer, for example "cron job /var/spool/cron/crontabs/root:1 (due 2025-01-15T10:30:00Z)".
    var reason: String
    /// The particle's last activity time that the hold recorded.
    var touchedAt: Date
}

extension Control {
    /// Keeps an idle particle awake for a timer that is due or a cron job that runs in its
    /// guest: counts as activity now, so the idle timeout starts again, and records the reason.
    func holdAwake(_ particle: Particle, for timers: GuestTimers) -> String {
        let reason: String
        if let pid = timers.runningCronJob {
            reason = "running cron job (pid \(pid))"
        } else if let next = timers.next {
            reason = "\(next.description) (due \(ISO8601DateFormatter().string(from: next.due)))"
        } else {
            reason = "guest timer"
        }
        activity.touch(particle.id)
        let touchedAt = activity.lastActivity(particle.id) ?? clock()
        guestTimerHolds.withLock { $0[particle.id] = GuestTimerHold(reason: reason, touchedAt: touchedAt) }
        return reason
    }

    /// Returns the guest timer that keeps the particle awake, or nil once other activity came
    /// after the hold.
    func guestTimerHold(_ particle: Particle) -> String? {
        guard let hold = guestTimerHolds.withLock({ $0[particle.id] }) else { return nil }
        return activity.lastActivity(particle.id) == hold.touchedAt ? hold.reason : nil
    }

    func forgetGuestTimerHold(_ particleID: String) {
        guestTimerHolds.withLock { _ = $0.removeValue(forKey: particleID) }
    }
}
