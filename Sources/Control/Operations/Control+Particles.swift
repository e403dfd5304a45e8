import Foundation
import Support

extension Control {
    /// Creates a particle and boots it; returns it once the guest is running.
    ///
    /// Invalid input is rejected before anything is stored. A guest that fails to boot leaves
    /// the particle in status `error` with its serial log kept, and the error message tells the caller.
    public func createParticle(
        accountID: String, name: String, size: ParticleSize = .p1, image: String? = nil
    ) async throws -> Particle {
        try ParticleName.validate(name)
        if configuration.billing.requireBalance {
            try await requireBalance(accountID: accountID)
        }
        let imageID = image ?? configuration.defaultImage
        try await requireImage(imageID)
        if try await store.particle(accountID: accountID, name: name) != nil {
            throw ControlError.conflict(
                "particle '\(name)' already exists; choose another name or run `delete \(name)`")
        }
        try await checkQuotas(accountID: accountID, adding: size)
        try await requireMemoryRoom(size, ["account": accountID, "name": name])

        let now = clock()
        var draft = Particle(
            id: RandomID.hex(12), accountID: accountID, name: name, size: size, image: imageID,
            status: .creating, httpPort: 80, idlePolicy: .sleep, address: "", customDomain: nil,
            createdAt: now, stoppedAt: nil, statusChangedAt: now)
        draft.idleTimeoutSeconds = configuration.idle.defaultTimeoutSeconds
        let particle: Particle
        do {
            particle = try await store.insertParticle(draft, pool: configuration.addressPool)
        } catch let error as ControlError where error.code == .conflict {
            throw ControlError.conflict(
                "particle '\(name)' already exists; choose another name or run `delete \(name)`")
        }
        let fields = ["account": accountID, "particle": particle.id, "name": name]
        logger.info("particle creating", fields.merging(["address": particle.address]) { a, _ in a })

        return try await particleLock.withLock(particle.id) {
            let spec = try await machineSpec(particle)
            CrashPoint.reach(.createStored)
            do {
                try await hypervisor.create(spec)
            } catch {
                let failure = controlError(error, operation: "create", fields)
                try await setStatus(particle, .error)
                throw ControlError(
                    failure.code == .internal ? .internal : failure.code,
                    "particle '\(name)' failed to boot: \(failure.message); its serial console"
                        + " is kept, see `logs \(name)`, then `delete \(name)`",
                    cause: failure.cause)
            }
            let running = try await setStatus(particle, .running)
            logger.info("particle running", fields)
            return running
        }
    }

    public func particles(accountID: String) async throws -> [Particle] {
        try await store.particles(accountID: accountID)
    }

    /// Returns the caller's particle `name`; another account's particle is "not found" too.
    public func particle(accountID: String, name: String) async throws -> Particle {
        guard let particle = try await store.particle(accountID: accountID, name: name) else {
            throw ControlError.particleNotFound(name)
        }
        return particle
    }

    /// Boots a stopped particle (or one in `error`) and returns it running.
    public func startParticle(accountID: String, name: String) async throws -> Particle {
        let particle = try await self.particle(accountID: accountID, name: name)
        return try await particleLock.withLock(particle.id) {
            let current = try await self.particle(accountID: accountID, name: name)
            switch current.status {
            case .stopped, .error: return try await startLocked(current, reason: "requested")
            case .sleeping: return try await wakeLocked(current, reason: "requested")
            case .running:
                throw ControlError.invalidState("particle '\(name)' is already running")
            default:
                throw ControlError.invalidState(
                    "particle '\(name)' is \(current.status.rawValue); it must be stopped to start")
            }
        }
    }

    /// Boots a stopped particle; the caller holds its lock.
    func startLocked(_ particle: Particle, reason: String) async throws -> Particle {
        let fields = ["account": particle.accountID, "particle": particle.id, "name": particle.name]
        try await requireMemoryRoom(particle.size, fields)
        let starting = try await setStatus(particle, .starting)
        CrashPoint.reach(.startStored)
        do {
            try await hypervisor.start(try await machineSpec(starting))
        } catch {
            let failure = controlError(error, operation: "start", fields)
            try await setStatus(starting, .error)
            throw ControlError(
                failure.code, "particle '\(particle.name)' failed to start: \(failure.message); see"
                    + " `logs \(particle.name)`", cause: failure.cause)
        }
        logger.info("particle running", fields.merging(["reason": reason]) { a, _ in a })
        activity.touch(particle.id)
        return try await setStatus(starting, .running)
    }

    /// Shuts a running particle down cleanly (powering it off past the deadline); keeps its disk.
    public func stopParticle(accountID: String, name: String) async throws -> Particle {
        let particle = try await self.particle(accountID: accountID, name: name)
        return try await particleLock.withLock(particle.id) {
            let current = try await self.particle(accountID: accountID, name: name)
            let fields = ["account": accountID, "particle": current.id, "name": name]
            if current.status == .sleeping {
                // Stopping a sleeping particle powers it off for good: its saved memory goes.
                try await hypervisor.discardMemory(particleID: current.id)
                var stopped = current
                stopped.wakeAt = nil
                stopped.wakeReason = nil
                logger.info("particle stopped; saved memory discarded", fields)
                return try await setStatus(stopped, .stopped)
            }
            guard current.status == .running || current.status == .error else {
                throw ControlError.invalidState(
                    "particle '\(name)' is \(current.status.rawValue); only a running or sleeping"
                        + " particle can be stopped")
            }
            // Noted as well as `stopping`, which a sleep uses too, so that a crash inside is finished.
            return try await withPendingOperation(.stop, on: current) {
                let stopping = try await setStatus(current, .stopping)
                CrashPoint.reach(.stopStored)
                do {
                    try await hypervisor.stop(particleID: current.id, deadline: configuration.stopDeadline)
                } catch {
                    try await setStatus(stopping, .error)
                    throw controlError(error, operation: "stop", fields)
                }
                logger.info("particle stopped", fields)
                return try await setStatus(stopping, .stopped)
            }
        }
    }

    /// Powers the particle off if needed and removes it with its disk.
    ///
    /// The delete is noted in the store first, so that a crash part-way through is finished at
    /// the next start rather than leaving a particle without its disk.
    public func deleteParticle(accountID: String, name: String) async throws {
        let particle = try await self.particle(accountID: accountID, name: name)
        try await particleLock.withLock(particle.id) {
            let fields = ["account": accountID, "particle": particle.id, "name": name]
            try await beginOperation(.delete, on: particle)
            CrashPoint.reach(.deleteStored)
            do {
                try await hypervisor.destroy(particleID: particle.id)
            } catch {
                try? await store.endOperation(particleID: particle.id)
                throw controlError(error, operation: "delete", fields)
            }
            CrashPoint.reach(.deleteDestroyed)
            // Deleting the row clears the pending delete with it.
            try await store.deleteParticle(id: particle.id, at: clock())
            activity.forget(particle.id)
            logger.info("particle deleted", fields)
        }
    }

    /// Returns the particle with live numbers from its guest (when it runs) and its activity.
    public func status(accountID: String, name: String) async throws -> ParticleStatusReport {
        let particle = try await self.particle(accountID: accountID, name: name)
        let stats = particle.status == .running ? await hypervisor.stats(particleID: particle.id) : nil
        return ParticleStatusReport(
            particle: particle, stats: stats, openConnections: activity.openCount(particle.id),
            lastActivity: activity.lastActivity(particle.id), wakeAt: wakesAt(particle, now: clock()))
    }

    /// Runs `command` in a running particle and returns its output and exit code.
    public func exec(
        accountID: String, name: String, command: String,
        onOutput: (@Sendable ([UInt8]) -> Void)? = nil
    ) async throws -> ExecResult {
        guard !command.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ControlError.invalidArgument(
                "missing command; give the command to run, like `exec \(name) -- uptime`")
        }
        let particle = try await ensureRunning(
            try await self.particle(accountID: accountID, name: name), reason: "exec")
        let fields = ["account": accountID, "particle": particle.id, "name": name]
        let activityID = activity.begin(particle.id, .exec, detail: String(command.prefix(60)))
        defer { activity.end(particle.id, id: activityID) }
        do {
            return try await hypervisor.exec(
                try await machineSpec(particle), command: command, onOutput: onOutput)
        } catch {
            throw controlError(error, operation: "exec", fields)
        }
    }

    /// Reads the particle's serial console log from byte `offset`.
    public func logs(accountID: String, name: String, offset: Int) async throws
        -> (particle: Particle, bytes: [UInt8], next: Int)
    {
        guard offset >= 0 else {
            throw ControlError.invalidArgument("invalid offset \(offset); use 0 or more bytes")
        }
        let particle = try await self.particle(accountID: accountID, name: name)
        let (bytes, next) = try await hypervisor.serialLog(particleID: particle.id, offset: offset)
        return (particle, bytes, next)
    }

    public func images() async -> [ImageInfo] {
        await hypervisor.images()
    }

    /// Rejects a new particle of `size` that would take the account past a quota.
    func checkQuotas(accountID: String, adding size: ParticleSize) async throws {
        let quotas = configuration.quotas
        let existing = try await store.particles(accountID: accountID)
        guard existing.count < quotas.particles else {
            throw ControlError(
                .forbidden,
                "particle quota reached: this account may have \(quotas.particles) particles;"
                    + " delete one first")
        }
        let vcpus = existing.map(\.size.vcpus).reduce(0, +)
        guard vcpus + size.vcpus <= quotas.vcpus else {
            throw ControlError(
                .forbidden,
                "vCPU quota reached: this account may use \(quotas.vcpus) vCPUs and uses \(vcpus);"
                    + " a \(size.rawValue) needs \(size.vcpus). Delete or resize a particle first")
        }
    }

    /// Throws when `memory_dir` has no room for the RAM of a guest of `size`, before anything
    /// is stored or started. Logs the refusal at most once a minute, since the scheduler may
    /// retry a wake at every look.
    func requireMemoryRoom(_ size: ParticleSize, _ fields: [String: String]) async throws {
        do {
            try await hypervisor.requireMemoryRoom(memoryBytes: size.memoryBytes)
        } catch {
            let now = clock()
            let due = lastMemoryRefusal.withLock { last in
                guard last.map({ now.timeIntervalSince($0) >= 60 }) ?? true else { return false }
                last = now
                return true
            }
            if due {
                logger.warning("guest not started: memory_dir is too full", fields.merging(["error": "\(error)"]) { a, _ in a })
            }
            throw error
        }
    }

    func requireImage(_ id: String) async throws {
        let images = await hypervisor.images()
        guard let image = images.first(where: { $0.id == id }) else {
            let known = images.map(\.id).joined(separator: ", ")
            throw ControlError.invalidArgument(
                "unknown image '\(id)'; use one of: \(known) (see `images`)")
        }
        guard image.available else {
            throw ControlError.unavailable(
                "image '\(id)' is not available on this server: \(image.reason ?? "not built")")
        }
    }

    func machineSpec(_ particle: Particle) async throws -> MachineSpec {
        let keys = try await store.keys(accountID: particle.accountID)
        return MachineSpec(particle: particle, authorizedKeys: keys.map(\.publicKey.lineWithComment))
    }

    @discardableResult
    func setStatus(_ particle: Particle, _ status: ParticleStatus) async throws -> Particle {
        var updated = particle
        updated.status = status
        updated.statusChangedAt = clock()
        if status == .stopped { updated.stoppedAt = updated.statusChangedAt }
        if status == .running { updated.stoppedAt = nil }
        try await store.updateParticle(updated)
        return updated
    }
}
