import Foundation
import Support

extension Control {
    /// Changes the size tier of a stopped particle: vCPUs and memory follow at the next boot,
    /// and the disk grows (never shrinks), with the guest's file system grown at boot.
    public func resizeParticle(accountID: String, name: String, size text: String) async throws -> Particle {
        let size = try ParticleSize.parse(text)
        return try await withStoppedParticle(accountID: accountID, name: name, operation: "resize") { [self] particle in
            let others = try await store.particles(accountID: accountID).filter { $0.id != particle.id }
            let vcpus = others.map(\.size.vcpus).reduce(0, +)
            guard vcpus + size.vcpus <= configuration.quotas.vcpus else {
                throw ControlError(
                    .forbidden,
                    "vCPU quota reached: this account may use \(configuration.quotas.vcpus) vCPUs and its"
                        + " other particles use \(vcpus); a \(size.rawValue) needs \(size.vcpus)")
            }
            return try await withPendingOperation(.resize(size: size), on: particle) {
                CrashPoint.reach(.resizeStored)
                if size.diskBytes > particle.size.diskBytes {
                    try await hypervisor.growDisk(particleID: particle.id, diskBytes: size.diskBytes)
                }
                var resized = particle
                resized.size = size
                try await store.updateParticle(resized)
                return resized
            }
        }
    }

    /// Replaces a stopped particle's disk with a fresh copy of its image (or `image`), keeping
    /// its name, address and account. Its snapshots go with the old disk.
    public func rebuildParticle(accountID: String, name: String, image: String?) async throws -> Particle {
        if let image { try await requireImage(image) }
        return try await withStoppedParticle(
            accountID: accountID, name: name, operation: "rebuild", acceptsSleeping: true
        ) { [self] particle in
            // The saved memory of a sleeping particle belongs to the disk that is replaced.
            if particle.status == .sleeping { try await hypervisor.discardMemory(particleID: particle.id) }
            var rebuilt = particle
            if rebuilt.status == .sleeping {
                rebuilt.status = .stopped
                rebuilt.statusChangedAt = clock()
                rebuilt.stoppedAt = rebuilt.statusChangedAt
                rebuilt.wakeAt = nil
                rebuilt.wakeReason = nil
            }
            rebuilt.image = image ?? particle.image
            return try await withPendingOperation(.rebuild(image: rebuilt.image), on: particle) {
                CrashPoint.reach(.rebuildStored)
                try await hypervisor.rebuild(try await machineSpec(rebuilt))
                for snapshot in try await store.snapshots(particleID: particle.id) {
                    try await store.deleteSnapshot(id: snapshot.id)
                }
                try await store.updateParticle(rebuilt)
                return rebuilt
            }
        }
    }

    /// Makes a new particle `newName` with a copy of a stopped or sleeping particle's disk and
    /// its own address and keys. With `withMemory`, the source must sleep and the copy sleeps
    /// too, with a copy of its memory: its first wake resumes the source's processes and gives
    /// the guest its own identity.
    ///
    /// The copy is `creating` until its files are complete, so that a crash part-way through
    /// removes it at the next start.
    public func duplicateParticle(
        accountID: String, name: String, newName: String, withMemory: Bool = false
    ) async throws -> Particle {
        try ParticleName.validate(newName)
        if try await store.particle(accountID: accountID, name: newName) != nil {
            throw ControlError.conflict("particle '\(newName)' already exists; choose another name")
        }
        return try await withStoppedParticle(
            accountID: accountID, name: name, operation: "duplicate", acceptsSleeping: true
        ) { [self] source in
            if withMemory && source.status != .sleeping {
                throw ControlError.invalidState(
                    "particle '\(name)' is \(source.status.rawValue); only a sleeping particle has memory"
                        + " to copy. Run `sleep \(name)` first, or duplicate without --with-memory")
            }
            try await checkQuotas(accountID: accountID, adding: source.size)
            let now = Date()
            var draft = source
            draft.id = RandomID.hex(12)
            draft.name = newName
            draft.status = .creating
            if !withMemory {
                // The copy of the memory resumes the same guest, whose timers it keeps.
                draft.wakeAt = nil
                draft.wakeReason = nil
            }
            draft.customDomain = nil
            draft.createdAt = now
            draft.stoppedAt = nil
            draft.statusChangedAt = now
            let copy: Particle
            do {
                copy = try await store.insertParticle(draft, pool: configuration.addressPool)
            } catch let error as ControlError where error.code == .conflict {
                throw ControlError.conflict("particle '\(newName)' already exists; choose another name")
            }
            CrashPoint.reach(.duplicateStored)
            do {
                try await hypervisor.duplicate(from: source.id, to: try await machineSpec(copy), withMemory: withMemory)
            } catch {
                try? await hypervisor.destroy(particleID: copy.id)
                try await store.deleteParticle(id: copy.id)
                throw error
            }
            return try await setStatus(copy, withMemory ? .sleeping : .stopped)
        }
    }

    /// Runs `body` on the particle under its lock when it is stopped or failed to boot, or
    /// sleeps where `acceptsSleeping` (its disk is as still as a stopped one's). Any other status
    /// is a conflict that names the command that fixes it.
    func withStoppedParticle<T: Sendable>(
        accountID: String, name: String, operation: String, acceptsSleeping: Bool = false,
        _ body: @escaping @Sendable (Particle) async throws -> T
    ) async throws -> T {
        let particle = try await self.particle(accountID: accountID, name: name)
        return try await particleLock.withLock(particle.id) {
            let current = try await self.particle(accountID: accountID, name: name)
            if current.status == .sleeping && !acceptsSleeping {
                throw ControlError.invalidState(
                    "particle '\(name)' is sleeping, and its saved memory belongs to its current disk"
                        + " and size; run `stop \(name)` first (it discards the saved memory) to"
                        + " \(operation)")
            }
            guard current.status == .stopped || current.status == .error
                || (current.status == .sleeping && acceptsSleeping)
            else {
                throw ControlError.invalidState(
                    "particle '\(name)' must be stopped to \(operation); it is \(current.status.rawValue),"
                        + " run `stop \(name)` first")
            }
            let fields = ["account": accountID, "particle": current.id, "op": operation]
            do {
                let result = try await body(current)
                logger.info("particle disk changed", fields)
                return result
            } catch {
                throw controlError(error, operation: operation, fields)
            }
        }
    }
}
