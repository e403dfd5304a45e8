import Foundation

/// Reconciliation: after a restart or a crash of particled, every particle is brought to a state
/// that agrees with its guest and its files.
///
/// Each operation writes the store before and after the VMM acts. The statuses `creating`,
/// `starting` and `stopping` note create, start or wake, and stop or sleep; a `PendingOperation`
/// notes the other operations, and stop too. At the next start an operation still noted is
/// finished, or undone when it had not made anything yet:
///
/// - The VMM first repairs a sleep or wake cut short (`Hypervisor.recover`). A QEMU that still
///   runs is adopted, never started twice or killed, and resumed if it was left paused. One that
///   was booting becomes `running` once its sshd accepts, and one that was being stopped is
///   stopped. A guest whose saved memory is whole is `sleeping`.
/// - A particle still `creating` without a QEMU (create or duplicate) is removed with its files.
/// - A pending delete, rebuild, resize, snapshot restore or snapshot delete is finished; a pending
///   snapshot creation is listed if the disk has the snapshot.
/// - Temporary files are removed; snapshot rows without a snapshot in the disk are removed, and
///   so are the disk's snapshots without a row.
/// - Any other status that disagrees with the VMM is corrected, and every correction is logged.
extension Control {
    /// Makes every stored particle agree with its guest and its files, by the rules in the extension's comment.
    ///
    /// A particle that cannot be repaired is logged and left for the next start, and the others
    /// are still reconciled. An interrupted operation that fails to finish is logged and
    /// dropped, and a particle without a guest is then `error`.
    public func reconcile() async throws {
        let pending = Dictionary(
            try await store.pendingOperations().map { ($0.particleID, $0) }, uniquingKeysWith: { a, _ in a })
        for particle in try await store.allParticles() {
            do {
                try await reconcile(particle, pending: pending[particle.id])
            } catch {
                logger.error(
                    "reconciling a particle failed, so it is left as it is until the next start",
                    ["particle": particle.id, "name": particle.name, "error": "\(error)"])
            }
        }
    }

    private func reconcile(_ stored: Particle, pending: PendingOperationRecord?) async throws {
        var particle = stored
        let fields = ["particle": particle.id, "name": particle.name, "was": particle.status.rawValue]
        if pending?.operation == .delete {
            try await hypervisor.destroy(particleID: particle.id)
            try await store.deleteParticle(id: particle.id, at: clock())
            logger.notice("interrupted delete finished", fields)
            return
        }
        let state = await hypervisor.recover(particleID: particle.id)
        let running = state == .running
        if particle.status == .creating && !running {
            // Nothing of a create or a duplicate that never ran its guest is worth keeping.
            // NOTE: a QEMU that was still starting when particled was killed, and has not written
            // its PID file yet, is missed here and would keep running without its files.
            try await hypervisor.destroy(particleID: particle.id)
            try await store.deleteParticle(id: particle.id, at: clock())
            logger.notice("interrupted creation undone: particle and its files removed", fields)
            return
        }
        if running {
            do {
                try await hypervisor.adopt(particleID: particle.id)
            } catch {
                logger.warning("cannot adopt running guest", fields.merging(["error": "\(error)"]) { a, _ in a })
            }
        }
        if pending?.operation == .stop {
            // Finished with the status below: a guest that still runs is stopped first.
        } else if let pending {
            do {
                particle = try await finish(pending, of: particle)
            } catch {
                // Left pending, the operation would be finished at some later start, over
                // whatever the particle's owner did with it meanwhile. So it is dropped, and a
                // particle without a guest is marked failed.
                logger.error(
                    "finishing an interrupted operation failed, so it is dropped; run the operation again",
                    fields.merging(["op": pending.operation.kind, "error": "\(error)"]) { a, _ in a })
                try await store.endOperation(particleID: particle.id)
                if !running { particle = try await setStatus(particle, .error) }
            }
        }
        try await reconcileSnapshots(particle)
        try await reconcileStatus(particle, state: state, stopping: pending?.operation == .stop, fields)
    }

    /// Corrects the status to what `state` shows. `stopping` is true when a stop was noted as
    /// pending, because the status `stopping` alone may be a sleep cut short, whose guest keeps
    /// running.
    private func reconcileStatus(
        _ particle: Particle, state: GuestState, stopping: Bool, _ fields: [String: String]
    ) async throws {
        if stopping && state == .running {
            Task { await finishStop(particle) }
            return
        }
        if stopping {
            try await store.endOperation(particleID: particle.id)
        }
        let corrected: ParticleStatus?
        switch state {
        case .sleeping:
            // The memory file is whole: a sleep that finished saving, or a wake cut short.
            corrected = particle.status == .sleeping ? nil : .sleeping
        case .running:
            switch particle.status {
            case .creating, .starting:
                // The guest may still be booting: it becomes running once its sshd accepts.
                let booting = try await setStatus(particle, .starting)
                Task { await finishBoot(booting) }
                return
            case .running:
                logger.info("guest adopted", fields)
                corrected = nil
            case .stopping, .stopped, .error, .sleeping:
                corrected = .running
            }
        case .off:
            switch particle.status {
            case .creating: corrected = .error
            case .running, .starting, .stopping, .sleeping: corrected = .stopped
            case .stopped, .error: corrected = nil
            }
        }
        if let corrected {
            try await setStatus(particle, corrected)
            logger.notice("status corrected", fields.merging(["now": corrected.rawValue]) { a, _ in a })
        }
    }

    /// Finishes an operation that particled was killed in, and returns the particle as stored after it.
    private func finish(_ pending: PendingOperationRecord, of particle: Particle) async throws -> Particle {
        var particle = particle
        let fields = ["particle": particle.id, "name": particle.name, "op": pending.operation.kind]
        switch pending.operation {
        case .delete, .stop:
            preconditionFailure("a pending \(pending.operation.kind) is finished outside of `finish`")
        case .rebuild(let image):
            // The disk is the old one or the fresh one, and making it fresh again gives the same result.
            particle.image = image
            try await hypervisor.rebuild(try await machineSpec(particle))
            for snapshot in try await store.snapshots(particleID: particle.id) {
                try await store.deleteSnapshot(id: snapshot.id)
            }
            try await store.updateParticle(particle)
        case .resize(let size):
            if let disk = try await hypervisor.repairFiles(particleID: particle.id), disk.virtualBytes < size.diskBytes {
                try await hypervisor.growDisk(particleID: particle.id, diskBytes: size.diskBytes)
            }
            particle.size = size
            try await store.updateParticle(particle)
        case .createSnapshot(let id, let name):
            let disk = try await hypervisor.repairFiles(particleID: particle.id)
            let listed = try await store.snapshots(particleID: particle.id).contains { $0.id == id }
            if let disk, disk.snapshotIDs.contains(id), !listed {
                try await store.insertSnapshot(
                    Snapshot(
                        id: id, particleID: particle.id, name: name, sizeBytes: disk.allocatedBytes,
                        createdAt: pending.startedAt))
            }
        case .restoreSnapshot(let id):
            // Rolling back to the snapshot again gives the same disk, whether or not it was done.
            let disk = try await hypervisor.repairFiles(particleID: particle.id)
            if disk?.snapshotIDs.contains(id) == true {
                try await hypervisor.restoreSnapshot(particleID: particle.id, snapshotID: id)
            } else {
                logger.warning("snapshot to restore is missing from the disk, so the disk is left as it is", fields.merging(["snapshot": id]) { a, _ in a })
            }
        case .deleteSnapshot(let id):
            let disk = try await hypervisor.repairFiles(particleID: particle.id)
            if disk?.snapshotIDs.contains(id) == true {
                try await hypervisor.deleteSnapshot(particleID: particle.id, snapshotID: id)
            }
            try await store.deleteSnapshot(id: id)
        }
        try await store.endOperation(particleID: particle.id)
        logger.notice("interrupted operation finished", fields)
        return particle
    }

    /// Removes temporary files, and makes the snapshot rows and the disk's internal snapshots agree.
    ///
    /// A row whose snapshot is missing from the disk is removed, because it cannot be restored.
    /// A snapshot in the disk without a row is deleted, because no one can see or delete it.
    private func reconcileSnapshots(_ particle: Particle) async throws {
        guard let disk = try await hypervisor.repairFiles(particleID: particle.id) else {
            if particle.status != .creating {
                logger.error("particle has no disk", ["particle": particle.id, "name": particle.name])
            }
            return
        }
        let rows = try await store.snapshots(particleID: particle.id)
        for row in rows where !disk.snapshotIDs.contains(row.id) {
            try await store.deleteSnapshot(id: row.id)
            logger.notice(
                "snapshot missing from the disk removed from the list",
                ["particle": particle.id, "snapshot": row.id, "name": row.name])
        }
        for id in disk.snapshotIDs where id.hasPrefix("snap_") && !rows.contains(where: { $0.id == id }) {
            try await hypervisor.deleteSnapshot(particleID: particle.id, snapshotID: id)
            logger.notice("unlisted snapshot deleted from the disk", ["particle": particle.id, "snapshot": id])
        }
    }

    /// Runs `body` with `operation` noted as pending on the particle, so that a crash inside it is
    /// finished at the next start. The note is cleared when `body` returns or throws.
    func withPendingOperation<T: Sendable>(
        _ operation: PendingOperation, on particle: Particle, _ body: () async throws -> T
    ) async throws -> T {
        try await beginOperation(operation, on: particle)
        let result: T
        do {
            result = try await body()
        } catch {
            try? await store.endOperation(particleID: particle.id)
            throw error
        }
        try await store.endOperation(particleID: particle.id)
        return result
    }

    /// Notes `operation` as pending on the particle, until `store.endOperation` clears the note.
    func beginOperation(_ operation: PendingOperation, on particle: Particle) async throws {
        do {
            try await store.beginOperation(
                PendingOperationRecord(particleID: particle.id, operation: operation, startedAt: clock()))
        } catch let error as ControlError where error.code == .conflict {
            throw ControlError.invalidState(
                "an earlier operation on particle '\(particle.name)' is still recorded as unfinished;"
                    + " restart particled to finish it")
        }
    }

    /// Waits for an adopted guest that was booting when particled stopped, then records whether
    /// it came up.
    func finishBoot(_ particle: Particle) async {
        let fields = ["particle": particle.id, "name": particle.name]
        do {
            try await particleLock.withLock(particle.id) { [self] in
                do {
                    try await hypervisor.waitUntilBooted(try await machineSpec(particle))
                    try await setStatus(particle, .running)
                    logger.notice("adopted guest finished booting", fields)
                } catch {
                    try await hypervisor.stop(particleID: particle.id, deadline: .seconds(1))
                    try await setStatus(particle, .error)
                    logger.warning("adopted guest did not finish booting", fields.merging(["error": "\(error)"]) { a, _ in a })
                }
            }
        } catch {
            logger.error("recording an adopted boot failed", fields.merging(["error": "\(error)"]) { a, _ in a })
        }
    }

    /// Stops an adopted guest that was being stopped when particled stopped, and clears the
    /// pending stop.
    func finishStop(_ particle: Particle) async {
        let fields = ["particle": particle.id, "name": particle.name]
        do {
            try await particleLock.withLock(particle.id) { [self] in
                do {
                    try await hypervisor.stop(particleID: particle.id, deadline: configuration.stopDeadline)
                    try await setStatus(particle, .stopped)
                    logger.notice("interrupted stop finished", fields)
                } catch {
                    try await setStatus(particle, .error)
                    logger.warning("interrupted stop failed", fields.merging(["error": "\(error)"]) { a, _ in a })
                }
                try await store.endOperation(particleID: particle.id)
            }
        } catch {
            logger.error("recording an interrupted stop failed", fields.merging(["error": "\(error)"]) { a, _ in a })
        }
    }
}
