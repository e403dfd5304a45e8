import Foundation
import Testing

@testable import Control

/// Reconciliation of operations that particled was killed in, against the recording hypervisor.
/// The end-to-end crash tests kill a real particled at each point; these check each repair rule.
@Suite struct ReconcileTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-\(UUID())")
    let hypervisor = RecordingHypervisor()

    func makeControl() throws -> (Control, SQLiteStore) {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: directory.appendingPathComponent("particle.db").path)
        let control = Control(
            store: store, hypervisor: hypervisor,
            configuration: .init(domain: "particle.localhost", addressPool: try AddressPool(cidr: "10.9.0.0/29")))
        return (control, store)
    }

    func account(_ control: Control) async throws -> String {
        let key = SSHPublicKey(algorithm: "ssh-ed25519", base64: Data((0..<51).map { UInt8($0) }).base64EncodedString())
        return try await control.account(forSSHKey: key).0.id
    }

    /// Creates particle `name` and stops it, as the disk operations need.
    func stoppedParticle(_ control: Control, _ owner: String, _ name: String = "web") async throws -> Particle {
        _ = try await control.createParticle(accountID: owner, name: name)
        return try await control.stopParticle(accountID: owner, name: name)
    }

    func begin(_ store: SQLiteStore, _ particle: Particle, _ operation: PendingOperation) async throws {
        try await store.beginOperation(
            PendingOperationRecord(particleID: particle.id, operation: operation, startedAt: Date()))
    }

    @Test func pendingDeleteIsFinished() async throws {
        let (control, store) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await control.createParticle(accountID: owner, name: "web")
        try await begin(store, web, .delete)
        try await control.reconcile()
        #expect(try await control.particles(accountID: owner).isEmpty)
        #expect(hypervisor.lock.withLock { hypervisor.disks[web.id] } == nil)
        #expect(hypervisor.lock.withLock { hypervisor.running.contains(web.id) } == false)
        #expect(try await store.pendingOperations().isEmpty)
    }

    @Test func creationWithoutGuestIsUndone() async throws {
        let (control, store) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await stoppedParticle(control, owner)
        try await control.setStatus(web, .creating)
        try await control.reconcile()
        #expect(try await control.particles(accountID: owner).isEmpty)
        #expect(hypervisor.calls.contains("destroy"))
        #expect(try await store.pendingOperations().isEmpty)
    }

    @Test func pendingResizeGrowsDisk() async throws {
        let (control, store) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await stoppedParticle(control, owner)
        try await begin(store, web, .resize(size: .p2))
        try await control.reconcile()
        let resized = try await control.particle(accountID: owner, name: "web")
        #expect(resized.size == .p2)
        #expect(resized.status == .stopped)
        #expect(hypervisor.lock.withLock { hypervisor.disks[web.id]?.virtualBytes } == ParticleSize.p2.diskBytes)
        #expect(try await store.pendingOperations().isEmpty)
    }

    @Test func pendingRebuildDropsSnapshots() async throws {
        let (control, store) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await stoppedParticle(control, owner)
        _ = try await control.createSnapshot(accountID: owner, name: "web", snapshotName: "before")
        try await begin(store, web, .rebuild(image: "debian-12"))
        try await control.reconcile()
        #expect(hypervisor.calls.contains("rebuild debian-12"))
        #expect(try await control.snapshots(accountID: owner, name: "web").isEmpty)
        #expect(try await store.pendingOperations().isEmpty)
    }

    @Test func takenSnapshotIsListed() async throws {
        let (control, store) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await stoppedParticle(control, owner)
        // Killed after the disk got the snapshot and before the row was written.
        _ = try await hypervisor.createSnapshot(particleID: web.id, snapshotID: "snap_taken")
        try await begin(store, web, .createSnapshot(id: "snap_taken", name: "before"))
        try await control.reconcile()
        let listed = try await control.snapshots(accountID: owner, name: "web")
        #expect(listed.map(\.name) == ["before"])
        #expect(listed.map(\.id) == ["snap_taken"])
        #expect(try await store.pendingOperations().isEmpty)
    }

    @Test func snapshotNeverTakenIsForgotten() async throws {
        let (control, store) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await stoppedParticle(control, owner)
        try await begin(store, web, .createSnapshot(id: "snap_never", name: "before"))
        try await control.reconcile()
        #expect(try await control.snapshots(accountID: owner, name: "web").isEmpty)
        #expect(try await store.pendingOperations().isEmpty)
    }

    @Test func pendingRestoreIsRepeated() async throws {
        let (control, store) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await stoppedParticle(control, owner)
        let snapshot = try await control.createSnapshot(accountID: owner, name: "web", snapshotName: "before")
        try await begin(store, web, .restoreSnapshot(id: snapshot.id))
        try await control.reconcile()
        #expect(hypervisor.calls.contains("restore \(snapshot.id)"))
        #expect(try await store.pendingOperations().isEmpty)
    }

    @Test func pendingSnapshotDeleteIsFinished() async throws {
        let (control, store) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await stoppedParticle(control, owner)
        let snapshot = try await control.createSnapshot(accountID: owner, name: "web", snapshotName: "before")
        try await begin(store, web, .deleteSnapshot(id: snapshot.id))
        try await control.reconcile()
        #expect(try await control.snapshots(accountID: owner, name: "web").isEmpty)
        #expect(hypervisor.lock.withLock { hypervisor.disks[web.id]?.snapshotIDs } == [])
        #expect(try await store.pendingOperations().isEmpty)
    }

    @Test func snapshotRowsFollowDisk() async throws {
        let (control, _) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await stoppedParticle(control, owner)
        let present = try await control.createSnapshot(accountID: owner, name: "web", snapshotName: "present")
        let missing = try await control.createSnapshot(accountID: owner, name: "web", snapshotName: "missing")
        hypervisor.lock.withLock {
            hypervisor.disks[web.id]?.snapshotIDs.removeAll { $0 == missing.id }
            hypervisor.disks[web.id]?.snapshotIDs.append("snap_unlisted")
            hypervisor.disks[web.id]?.snapshotIDs.append("operator-made")
        }
        try await control.reconcile()
        #expect(try await control.snapshots(accountID: owner, name: "web").map(\.name) == ["present"])
        #expect(hypervisor.lock.withLock { hypervisor.disks[web.id]?.snapshotIDs } == [present.id, "operator-made"])
    }

    @Test func interruptedStopIsFinished() async throws {
        let (control, store) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await control.createParticle(accountID: owner, name: "web")
        try await begin(store, web, .stop)
        try await control.setStatus(web, .stopping)
        try await control.reconcile()
        // The stop finishes in the background: wait for its status and for its note to go.
        var status = try await control.particle(accountID: owner, name: "web").status
        var pending = try await store.pendingOperations()
        for _ in 0..<100 where status != .stopped || !pending.isEmpty {
            try await Task.sleep(for: .milliseconds(20))
            status = try await control.particle(accountID: owner, name: "web").status
            pending = try await store.pendingOperations()
        }
        #expect(status == .stopped)
        #expect(hypervisor.calls.contains("adopt"))
        #expect(hypervisor.calls.contains("stop"))
        #expect(pending.isEmpty)
    }

    @Test func interruptedSleepKeepsRunning() async throws {
        let (control, store) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await control.createParticle(accountID: owner, name: "web")
        // A sleep sets `stopping` without noting a stop, and its guest was left running.
        try await control.setStatus(web, .stopping)
        try await control.reconcile()
        #expect(try await control.particle(accountID: owner, name: "web").status == .running)
        #expect(!hypervisor.calls.contains("stop"))
        #expect(try await store.pendingOperations().isEmpty)
    }

    @Test func failedFinishMarksError() async throws {
        let (control, store) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await stoppedParticle(control, owner)
        try await begin(store, web, .resize(size: .p2))
        hypervisor.lock.withLock { hypervisor.failGrow = true }
        try await control.reconcile()
        // Dropped rather than kept for a later start, which could find the disk in use again.
        #expect(try await store.pendingOperations().isEmpty)
        let particle = try await control.particle(accountID: owner, name: "web")
        #expect(particle.status == .error)
        #expect(particle.size == .p1)
    }

    @Test func unfinishedOperationBlocksNext() async throws {
        let (control, store) = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await stoppedParticle(control, owner)
        try await begin(store, web, .restoreSnapshot(id: "snap_gone"))
        await #expect(
            throws: ControlError.invalidState(
                "an earlier operation on particle 'web' is still recorded as unfinished; restart"
                    + " particled to finish it")
        ) {
            try await control.resizeParticle(accountID: owner, name: "web", size: "p2")
        }
        #expect(try await control.particle(accountID: owner, name: "web").size == .p1)
    }
}
