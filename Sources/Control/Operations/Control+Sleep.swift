import Foundation
import Support

extension Control {
    /// Puts a running particle to sleep now: its guest's memory goes to disk and its QEMU exits.
    public func sleepParticle(accountID: String, name: String) async throws -> Particle {
        let particle = try await self.particle(accountID: accountID, name: name)
        return try await particleLock.withLock(particle.id) { [self] in
            let current = try await self.particle(accountID: accountID, name: name)
            switch current.status {
            case .running: break
            case .sleeping:
                throw ControlError.invalidState("particle '\(name)' is already sleeping")
            default:
                throw ControlError.invalidState(
                    "particle '\(name)' is \(current.status.rawValue); only a running particle can"
                        + " sleep (`start \(name)` boots it)")
            }
            return try await sleepLocked(current, reason: "requested")
        }
    }

    /// Sleeps a running particle; the caller holds its lock. A failed save leaves it running.
    @discardableResult
    func sleepLocked(_ particle: Particle, reason: String) async throws -> Particle {
        let fields = ["account": particle.accountID, "particle": particle.id, "name": particle.name]
        let stopping = try await setStatus(particle, .stopping)
        CrashPoint.reach(.sleepStored)
        let nextTimer: GuestTimer?
        do {
            nextTimer = try await hypervisor.sleep(particleID: particle.id)
        } catch {
            let runs = await hypervisor.isRunning(particleID: particle.id)
            try await setStatus(stopping, runs ? .running : .error)
            throw controlError(error, operation: "sleep", fields)
        }
        var asleep = stopping
        asleep.wakeAt = nextTimer?.due
        asleep.wakeReason = nextTimer?.description
        asleep = try await setStatus(asleep, .sleeping)
        forgetGuestTimerHold(particle.id)
        var logged = fields.merging(["reason": reason]) { a, _ in a }
        if let nextTimer {
            logged["wake_at"] = ISO8601DateFormatter().string(from: nextTimer.due)
            logged["wake_for"] = nextTimer.description
        }
        logger.info("particle asleep", logged)
        return asleep
    }

    /// Whether use (an HTTP request, an SSH jump or login, `exec`) wakes or starts the particle.
    ///
    /// A sleeping particle always wakes. A stopped one starts only under the `sleep` and
    /// `schedule` policies, where being stopped is a state the platform may choose; under `on`
    /// and `none` a stop is the user's and stays until `start`.
    static func wakesOnUse(_ particle: Particle) -> Bool {
        switch particle.status {
        case .sleeping: true
        case .stopped: particle.idlePolicy == .sleep || particle.idlePolicy == .schedule
        default: false
        }
    }

    /// Returns the particle running, waking it from sleep or starting it when use may
    /// (`wakesOnUse`). Callers that arrive while it wakes wait for that same wake: they queue on
    /// the particle's lock and find it running.
    public func ensureRunning(_ particle: Particle, reason: String) async throws -> Particle {
        if particle.status == .running { return particle }
        return try await particleLock.withLock(particle.id) { [self] in
            guard let current = try await store.particle(id: particle.id) else {
                throw ControlError.particleNotFound(particle.name)
            }
            if current.status == .running { return current }
            guard Self.wakesOnUse(current) else {
                throw ControlError.invalidState(
                    "particle '\(current.name)' is \(current.status.rawValue); run"
                        + " `start \(current.name)` first")
            }
            return current.status == .sleeping
                ? try await wakeLocked(current, reason: reason)
                : try await startLocked(current, reason: reason)
        }
    }

    /// Resumes a sleeping particle; the caller holds its lock. A failed load, or too little
    /// room in `memory_dir` to start, keeps the saved memory and the particle sleeping.
    func wakeLocked(_ particle: Particle, reason: String) async throws -> Particle {
        let fields = ["account": particle.accountID, "particle": particle.id, "name": particle.name]
        do {
            try await requireMemoryRoom(particle.size, fields)
        } catch {
            let failure = controlError(error, operation: "wake", fields)
            throw ControlError(
                failure.code, "particle '\(particle.name)' did not wake: \(failure.message)", cause: failure.cause)
        }
        let starting = try await setStatus(particle, .starting)
        do {
            try await hypervisor.wake(try await machineSpec(starting))
        } catch {
            let saved = await hypervisor.hasSavedMemory(particleID: particle.id)
            try await setStatus(starting, saved ? .sleeping : .error)
            let failure = controlError(error, operation: "wake", fields)
            throw ControlError(
                failure.code, "particle '\(particle.name)' did not wake: \(failure.message)",
                cause: failure.cause)
        }
        var awake = starting
        awake.wakeAt = nil
        awake.wakeReason = nil
        awake = try await setStatus(awake, .running)
        activity.touch(particle.id)
        logger.info("particle awake", fields.merging(["reason": reason]) { a, _ in a })
        return awake
    }

    /// Opens a TCP connection to the destination's guest port for the proxy, waking the
    /// particle first when use may (`wakesOnUse`). Returns or throws within `hold`: when the
    /// particle is not running and accepting by then, the error is one that `isWakeTimeout`
    /// recognizes, and the wake goes on for the requests that follow.
    public func connectWaking(to destination: ProxyDestination, hold: Duration) async throws -> Int32 {
        let particle = destination.particle
        if particle.status == .running {
            return try await hypervisor.connect(address: particle.address, port: destination.port)
        }
        // A particle that is starting, or stopping (maybe for a sleep), is waited for.
        guard Self.wakesOnUse(particle) || particle.status == .starting || particle.status == .stopping else {
            throw ControlError.invalidState(
                "particle '\(particle.name)' is \(particle.status.rawValue); start it with"
                    + " `start \(particle.name)`")
        }
        let deadline = ContinuousClock.now + hold
        let wake = Task { try await ensureRunning(particle, reason: "http") }
        let awake: Particle
        do {
            awake = try await withDeadline(deadline, onTimeout: Self.wakeTimeout(particle)) {
                try await wake.value
            }
        } catch let error as ControlError where error.code == .unavailable && !Self.isWakeTimeout(error) {
            // Told apart from a refused connection to the guest, which has the same code.
            throw ControlError(.unavailable, error.message, cause: WakeFailure.marker)
        }
        // A woken guest's server is back at once, so a refusal after a wake is the real answer
        // (502) within a second; a booted guest may need the whole hold to start listening.
        let retryUntil = particle.status == .sleeping ? min(deadline, ContinuousClock.now + .seconds(1)) : deadline
        while true {
            do {
                return try await hypervisor.connect(address: awake.address, port: destination.port)
            } catch {
                // The particle runs by now, so a port that is still closed is the result to report.
                guard ContinuousClock.now + .milliseconds(50) < retryUntil else { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    static func wakeTimeout(_ particle: Particle) -> ControlError {
        ControlError(
            .unavailable, "particle '\(particle.name)' is starting; try again shortly",
            cause: WakeTimeout.marker)
    }

    /// Whether `error` is the proxy's hold running out while a particle wakes.
    public static func isWakeTimeout(_ error: any Error) -> Bool {
        (error as? ControlError)?.cause == WakeTimeout.marker
    }

    /// Returns whether `error` is a wake or start for the proxy that failed (no room in
    /// `memory_dir`, a state that failed to load) rather than a guest port that refused.
    public static func isWakeFailure(_ error: any Error) -> Bool {
        (error as? ControlError)?.cause == WakeFailure.marker
    }

    /// Runs `body` and returns its result, or throws `onTimeout` at `deadline` (leaving `body`
    /// to finish on its own).
    private func withDeadline<T: Sendable>(
        _ deadline: ContinuousClock.Instant, onTimeout: ControlError,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let result = Locked<CheckedContinuation<T, any Error>?>(nil)
        return try await withCheckedThrowingContinuation { continuation in
            result.withLock { $0 = continuation }
            Task {
                do {
                    let value = try await body()
                    result.withLock { $0.take() }?.resume(returning: value)
                } catch {
                    result.withLock { $0.take() }?.resume(throwing: error)
                }
            }
            Task {
                try? await Task.sleep(until: deadline)
                result.withLock { $0.take() }?.resume(throwing: onTimeout)
            }
        }
    }
}

/// The cause recorded in the error for a wake that outlasted the proxy's hold.
enum WakeTimeout {
    static let marker = "wake outlasted the hold"
}

/// The cause recorded in the error for a wake or start for the proxy that failed.
enum WakeFailure {
    static let marker = "wake or start failed"
}
