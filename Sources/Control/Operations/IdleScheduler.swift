import Foundation
import Support

/// Settings of the idle policies that are the operator's, not the user's.
public struct IdleConfiguration: Sendable {
    /// The idle timeout of new particles (users set 30 s to 24 h per particle; tests use less).
    public var defaultTimeoutSeconds: Int
    /// How often the scheduler looks at every particle.
    public var checkInterval: Duration
    /// The first delay before an `on` particle whose guest died is started again; it doubles
    /// with each death in a row up to `restartBackoffMaximum`.
    public var restartBackoffMinimum: Duration
    public var restartBackoffMaximum: Duration

    public init(
        defaultTimeoutSeconds: Int = IdleSettings.defaultTimeoutSeconds,
        checkInterval: Duration = .seconds(1), restartBackoffMinimum: Duration = .seconds(1),
        restartBackoffMaximum: Duration = .seconds(300)
    ) {
        self.defaultTimeoutSeconds = defaultTimeoutSeconds
        self.checkInterval = checkInterval
        self.restartBackoffMinimum = restartBackoffMinimum
        self.restartBackoffMaximum = restartBackoffMaximum
    }
}

/// Enforces the idle policies: puts idle particles to sleep, wakes them for their schedule and
/// their guests' timers, keeps `on` particles running, and notices guests that powered off by
/// themselves. Also sleeps the running particles of accounts at zero balance when billing
/// requires a balance.
///
/// Each decision is taken again under the particle's lock before anything happens, so the
/// scheduler never races a user's operation; at most one action per particle is in flight.
public final class IdleScheduler: Sendable {
    private struct Restart {
        var deaths: Int
        var notBefore: Date
        /// Until the restart begins; a later stop by the user is the user's.
        var pending = true
    }

    private struct State {
        var inFlight: Set<String> = []
        /// The last failure of an action on each particle, logged once until it changes.
        var lastFailure: [String: String] = [:]
        var restarts: [String: Restart] = [:]
        /// Whether each `schedule` particle's window was open at the last look.
        var windowOpen: [String: Bool] = [:]
    }

    let control: Control
    let logger: Logger
    private let state = Locked(State())
    private let loop = Locked<Task<Void, Never>?>(nil)

    public init(control: Control, logger: Logger = Logger(label: "idle")) {
        self.control = control
        self.logger = logger
    }

    /// Starts the `on` particles that are not running, then looks at every particle each
    /// `checkInterval` until `stop`.
    public func start() {
        let interval = control.configuration.idle.checkInterval
        loop.withLock { task in
            task = Task { [self] in
                await startAlwaysOn()
                while !Task.isCancelled {
                    await check()
                    try? await Task.sleep(for: interval)
                }
            }
        }
    }

    public func stop() {
        loop.withLock { $0?.cancel() }
    }

    private func startAlwaysOn() async {
        guard let particles = try? await control.store.allParticles() else { return }
        for particle in particles where particle.idlePolicy == .on && particle.status != .running {
            guard [.stopped, .sleeping, .error].contains(particle.status) else { continue }
            act(on: particle, "start at daemon start (policy on)") { control, current in
                guard current.idlePolicy == .on, current.status != .running else { return }
                _ = current.status == .sleeping
                    ? try await control.wakeLocked(current, reason: "policy on")
                    : try await control.startLocked(current, reason: "policy on")
            }
        }
    }

    /// One look at every particle; public so that tests can drive the scheduler step by step.
    public func check() async {
        let now = control.clock()
        let particles: [Particle]
        do {
            particles = try await control.store.allParticles()
        } catch {
            logger.error("cannot list particles", ["error": "\(error)"])
            return
        }
        var balances: [String: Int64] = [:]
        for particle in particles {
            if state.withLock({ $0.inFlight.contains(particle.id) }) { continue }
            let windowOpen = particle.idleSchedule.flatMap { try? WeeklySchedule(parsing: $0) }?.contains(now)
            let windowOpened = state.withLock { state in
                let previous = state.windowOpen[particle.id]
                state.windowOpen[particle.id] = windowOpen
                return windowOpen == true && previous != true
            }
            switch particle.status {
            case .running:
                if !(await control.hypervisor.isRunning(particleID: particle.id)) {
                    guestDied(particle, now: now)
                    continue
                }
                if await lacksBalance(particle, balances: &balances) {
                    sleep(particle, reason: "zero balance")
                    continue
                }
                if isIdle(particle, now: now), particle.idlePolicy == .sleep
                    || (particle.idlePolicy == .schedule && windowOpen != true)
                {
                    sleep(particle, reason: "idle")
                }
            case .sleeping:
                // Without the balance that billing requires, a woken particle would be put back
                // to sleep at the next look, so the scheduler does not wake it.
                if await lacksBalance(particle, balances: &balances) { continue }
                if let wakeAt = particle.wakeAt, wakeAt <= now {
                    wake(particle, reason: "guest \(particle.wakeReason ?? "timer")")
                } else if particle.idlePolicy == .on || (particle.idlePolicy == .schedule && windowOpened) {
                    wake(particle, reason: "policy \(particle.idlePolicy.rawValue)")
                }
            case .stopped, .error:
                if particle.idlePolicy == .schedule && windowOpened {
                    wake(particle, reason: "schedule window opened")
                } else if particle.idlePolicy == .on, let restart = state.withLock({ $0.restarts[particle.id] }),
                    restart.pending, restart.notBefore <= now
                {
                    state.withLock { $0.restarts[particle.id]?.pending = false }
                    wake(particle, reason: "restart after the guest died (\(restart.deaths) in a row)")
                }
            case .creating, .starting, .stopping:
                continue
            }
        }
    }

    /// Returns whether billing requires a balance and the particle's account has none.
    /// `balances` caches the accounts' balances for one look.
    private func lacksBalance(_ particle: Particle, balances: inout [String: Int64]) async -> Bool {
        guard control.configuration.billing.requireBalance else { return false }
        if balances[particle.accountID] == nil,
            let account = try? await control.store.account(id: particle.accountID)
        {
            balances[particle.accountID] = account.balanceCents
        }
        guard let balance = balances[particle.accountID] else { return false }
        return balance <= 0
    }

    private func isIdle(_ particle: Particle, now: Date) -> Bool {
        guard let deadline = control.sleepsAt(particle, now: now) else { return false }
        return deadline <= now
    }

    private func sleep(_ particle: Particle, reason: String) {
        act(on: particle, "sleep (\(reason))") { [self] control, current in
            guard current.status == .running else { return }
            if reason == "idle" {
                // Activity may have started since the look; the lock makes this check final.
                let now = control.clock()
                guard isIdle(current, now: now) else { return }
                // A timer that is due keeps the guest awake until it has fired: that is what it
                // was woken for. systemd fires within its accuracy (a minute by default), cron
                // within the job's minute. A cron job that runs keeps it awake until it ends.
                if let timers = await control.hypervisor.guestTimers(particleID: current.id),
                    timers.keepAwake(at: now)
                {
                    let holdReason = control.holdAwake(current, for: timers)
                    logger.debug("not sleeping: a guest timer is due", ["particle": current.id, "timer": holdReason])
                    return
                }
            }
            try await control.sleepLocked(current, reason: reason)
        }
    }

    private func wake(_ particle: Particle, reason: String) {
        act(on: particle, "wake (\(reason))") { control, current in
            guard current.status == particle.status else { return }
            _ = current.status == .sleeping
                ? try await control.wakeLocked(current, reason: reason)
                : try await control.startLocked(current, reason: reason)
        }
    }

    /// Records a guest whose QEMU ended by itself (a power-off from inside, or a crash): logs
    /// how it ended, ends the activities that were open on it, and stores `stopped`. For policy
    /// `on` it schedules a restart after a backoff that doubles with each death in a row.
    private func guestDied(_ particle: Particle, now: Date) {
        act(on: particle, "record that the guest powered off") { [self] control, current in
            guard current.status == .running, !(await control.hypervisor.isRunning(particleID: current.id)) else {
                return
            }
            let exit = await control.hypervisor.cleanUpEndedGuest(particleID: current.id)
            try await control.setStatus(current, .stopped)
            let ended = control.activity.endAll(current.id)
            var fields = [
                "particle": current.id, "name": current.name, "policy": current.idlePolicy.rawValue,
                "exit": exit.status ?? "unknown", "activities_ended": "\(ended)",
            ]
            if !exit.qemuOutput.isEmpty { fields["qemu_output"] = exit.qemuOutput }
            if !exit.consoleTail.isEmpty { fields["console"] = exit.consoleTail }
            if exit.isClean {
                logger.notice("guest powered off by itself", fields)
            } else {
                logger.warning("guest's QEMU ended unexpectedly", fields)
            }
            guard current.idlePolicy == .on else { return }
            let idle = control.configuration.idle
            let restart = state.withLock { state in
                // A guest that ran for longer than the longest backoff starts a new series.
                let earlier = state.restarts[current.id]
                let recent = earlier.map { now.timeIntervalSince($0.notBefore) < Self.seconds(idle.restartBackoffMaximum) } ?? false
                let deaths = recent ? earlier!.deaths + 1 : 1
                let delay = min(
                    Self.seconds(idle.restartBackoffMinimum) * pow(2, Double(deaths - 1)),
                    Self.seconds(idle.restartBackoffMaximum))
                let restart = Restart(deaths: deaths, notBefore: now.addingTimeInterval(delay))
                state.restarts[current.id] = restart
                return restart
            }
            logger.notice(
                "guest of an always-on particle died; restarting it",
                ["particle": current.id, "deaths": "\(restart.deaths)",
                 "after_s": String(format: "%.1f", restart.notBefore.timeIntervalSince(now))])
        }
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        TimeInterval(duration.components.seconds) + TimeInterval(duration.components.attoseconds) / 1e18
    }

    /// Runs `body` on the particle's current row under its lock, in its own task, unless an
    /// action on the particle is already in flight.
    private func act(
        on particle: Particle, _ what: String,
        _ body: @escaping @Sendable (Control, Particle) async throws -> Void
    ) {
        let claimed = state.withLock { $0.inFlight.insert(particle.id).inserted }
        guard claimed else { return }
        let control = self.control
        Task { [self] in
            defer { state.withLock { _ = $0.inFlight.remove(particle.id) } }
            do {
                try await control.particleLock.withLock(particle.id) {
                    guard let current = try await control.store.particle(id: particle.id) else { return }
                    try await body(control, current)
                }
                state.withLock { _ = $0.lastFailure.removeValue(forKey: particle.id) }
            } catch {
                // A cause that persists (a full memory_dir) fails again at every look.
                let failure = "\(what): \(error)"
                let repeated = state.withLock { state in
                    defer { state.lastFailure[particle.id] = failure }
                    return state.lastFailure[particle.id] == failure
                }
                logger.log(
                    repeated ? .debug : .warning, "idle action failed",
                    ["particle": particle.id, "action": what, "error": "\(error)"])
            }
        }
    }
}
