import Foundation
import Support

extension Control {
    /// Takes a snapshot of a running or stopped particle's disk.
    public func createSnapshot(accountID: String, name: String, snapshotName: String) async throws -> Snapshot {
        try Self.validateSnapshotName(snapshotName)
        let particle = try await self.particle(accountID: accountID, name: name)
        return try await particleLock.withLock(particle.id) { [self] in
            let current = try await self.particle(accountID: accountID, name: name)
            guard [.running, .stopped, .sleeping, .error].contains(current.status) else {
                throw ControlError.invalidState(
                    "particle '\(name)' is \(current.status.rawValue); snapshots are taken of running,"
                        + " sleeping or stopped particles, try again when it is one of them")
            }
            if try await store.snapshots(particleID: current.id).contains(where: { $0.name == snapshotName }) {
                throw ControlError.conflict(
                    "snapshot '\(snapshotName)' of particle '\(name)' already exists; choose another name")
            }
            let count = try await store.snapshotCount(accountID: accountID)
            guard count < configuration.quotas.snapshots else {
                throw ControlError(
                    .forbidden,
                    "snapshot quota reached: this account may keep \(configuration.quotas.snapshots)"
                        + " snapshots; delete one first")
            }
            let id = "snap_" + RandomID.hex(12)
            let fields = ["account": accountID, "particle": current.id, "snapshot": id]
            let snapshot = try await withPendingOperation(.createSnapshot(id: id, name: snapshotName), on: current) {
                CrashPoint.reach(.snapshotCreateStored)
                let size: UInt64
                do {
                    size = try await hypervisor.createSnapshot(particleID: current.id, snapshotID: id)
                } catch {
                    throw controlError(error, operation: "snapshot", fields)
                }
                CrashPoint.reach(.snapshotCreateTaken)
                let snapshot = Snapshot(
                    id: id, particleID: current.id, name: snapshotName, sizeBytes: size, createdAt: Date())
                do {
                    try await store.insertSnapshot(snapshot)
                } catch {
                    try? await hypervisor.deleteSnapshot(particleID: current.id, snapshotID: id)
                    throw error
                }
                return snapshot
            }
            logger.info("snapshot created", fields)
            return snapshot
        }
    }

    public func snapshots(accountID: String, name: String) async throws -> [Snapshot] {
        let particle = try await self.particle(accountID: accountID, name: name)
        return try await store.snapshots(particleID: particle.id)
    }

    /// Rolls a stopped particle's disk back to snapshot `snapshot` (a name or an id).
    public func restoreSnapshot(accountID: String, name: String, snapshot: String) async throws {
        try await withStoppedParticle(accountID: accountID, name: name, operation: "restore a snapshot") { [self] particle in
            let found = try await self.snapshot(particle, snapshot)
            try await withPendingOperation(.restoreSnapshot(id: found.id), on: particle) {
                CrashPoint.reach(.snapshotRestoreStored)
                try await hypervisor.restoreSnapshot(particleID: particle.id, snapshotID: found.id)
            }
        }
    }

    public func deleteSnapshot(accountID: String, name: String, snapshot: String) async throws {
        let particle = try await self.particle(accountID: accountID, name: name)
        try await particleLock.withLock(particle.id) { [self] in
            let found = try await self.snapshot(particle, snapshot)
            try await withPendingOperation(.deleteSnapshot(id: found.id), on: particle) {
                CrashPoint.reach(.snapshotDeleteStored)
                try await hypervisor.deleteSnapshot(particleID: particle.id, snapshotID: found.id)
                CrashPoint.reach(.snapshotDeleteDeleted)
                try await store.deleteSnapshot(id: found.id)
            }
            logger.info("snapshot deleted", ["account": accountID, "particle": particle.id, "snapshot": found.id])
        }
    }

    private func snapshot(_ particle: Particle, _ nameOrID: String) async throws -> Snapshot {
        let snapshots = try await store.snapshots(particleID: particle.id)
        guard let found = snapshots.first(where: { $0.name == nameOrID || $0.id == nameOrID }) else {
            throw ControlError.notFound(
                "snapshot '\(nameOrID)' of particle '\(particle.name)' not found; run"
                    + " `snapshot ls \(particle.name)` to see them")
        }
        return found
    }

    static func validateSnapshotName(_ name: String) throws(ControlError) {
        let allowed = name.utf8.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 || $0 == 46
        }
        let startsWell = name.first.map { $0.isLetter || $0.isNumber } ?? false
        guard !name.isEmpty, name.count <= 64, allowed, startsWell, !name.hasPrefix("snap_") else {
            throw .invalidArgument(
                "invalid snapshot name '\(name)'; use 1-64 lowercase letters, digits, '-', '_' and '.',"
                    + " starting with a letter or digit and not with 'snap_'")
        }
    }
}
