import Foundation
import Support
import Testing

@testable import Control

/// A hypervisor that records calls and keeps guests as entries in memory; the real one is
/// exercised by the end-to-end tests.
final class RecordingHypervisor: Hypervisor, @unchecked Sendable {
    // Guarded by `lock`.
    let lock = NSLock()
    var running: Set<String> = []
    var sleeping: Set<String> = []
    /// The disk of each particle that has one.
    var disks: [String: DiskState] = [:]
    var calls: [String] = []
    var failBoot = false
    var failGrow = false
    /// The free bytes of the stand-in for `memory_dir`.
    var memoryFreeBytes = UInt64.max
    /// What QEMU reports of each running guest; nil for a QEMU that does not respond.
    var stats: MachineStats?
    /// How the next guest that ends by itself ended.
    var exit = MachineExit(status: "exit status 0", qemuOutput: "", consoleTail: "reboot: Power down")
    /// What each guest's agent would report about its timers.
    var timers: [String: GuestTimers] = [:]

    private func record(_ call: String) { lock.withLock { calls.append(call) } }

    func images() async -> [ImageInfo] {
        [
            ImageInfo(id: "debian-12", displayName: "Debian 12", isDefault: true, available: true, reason: nil),
            ImageInfo(id: "ubuntu-24.04", displayName: "Ubuntu", isDefault: false, available: false, reason: "no route"),
        ]
    }
    func create(_ spec: MachineSpec) async throws {
        record("create \(spec.hostname) \(spec.address)")
        if lock.withLock({ failBoot }) { throw ControlError.unavailable("the guest powered off during boot") }
        lock.withLock {
            running.insert(spec.particleID)
            disks[spec.particleID] = DiskState(virtualBytes: spec.diskBytes, allocatedBytes: 1 << 20, snapshotIDs: [])
        }
    }
    func start(_ spec: MachineSpec) async throws {
        record("start \(spec.hostname)")
        lock.withLock { _ = running.insert(spec.particleID) }
    }
    func stop(particleID: String, deadline: Duration) async throws {
        record("stop")
        lock.withLock { _ = running.remove(particleID) }
    }
    func destroy(particleID: String) async throws {
        record("destroy")
        lock.withLock {
            running.remove(particleID)
            disks[particleID] = nil
        }
    }
    func isRunning(particleID: String) async -> Bool { lock.withLock { running.contains(particleID) } }
    func requireMemoryRoom(memoryBytes: UInt64) async throws {
        let free = lock.withLock { memoryFreeBytes }
        if free < memoryBytes {
            throw ControlError.unavailable("not enough room in memory_dir /test: \(free) bytes free, \(memoryBytes) needed")
        }
    }
    func cleanUpEndedGuest(particleID: String) async -> MachineExit {
        record("ended")
        return lock.withLock { exit }
    }
    func sleep(particleID: String) async throws -> GuestTimer? {
        record("sleep")
        return lock.withLock {
            _ = running.remove(particleID)
            _ = sleeping.insert(particleID)
            return timers[particleID]?.next
        }
    }
    func guestTimers(particleID: String) async -> GuestTimers? { lock.withLock { timers[particleID] } }
    func wake(_ spec: MachineSpec) async throws {
        record("wake \(spec.hostname)")
        // Long enough for concurrent callers to pile up behind the wake.
        try await Task.sleep(for: .milliseconds(50))
        lock.withLock {
            _ = sleeping.remove(spec.particleID)
            _ = running.insert(spec.particleID)
        }
    }
    func discardMemory(particleID: String) async throws {
        record("discard")
        lock.withLock { _ = sleeping.remove(particleID) }
    }
    func hasSavedMemory(particleID: String) async -> Bool { lock.withLock { sleeping.contains(particleID) } }
    func recover(particleID: String) async -> GuestState {
        lock.withLock { running.contains(particleID) ? .running : sleeping.contains(particleID) ? .sleeping : .off }
    }
    func adopt(particleID: String) async throws { record("adopt") }
    func repairFiles(particleID: String) async throws -> DiskState? { lock.withLock { disks[particleID] } }
    func waitUntilBooted(_ spec: MachineSpec) async throws { record("wait \(spec.hostname)") }
    func stats(particleID: String) async -> MachineStats? { lock.withLock { running.contains(particleID) ? stats : nil } }
    func exec(_ spec: MachineSpec, command: String, onOutput: (@Sendable ([UInt8]) -> Void)?) async throws -> ExecResult {
        ExecResult(exitCode: 0, output: Array(command.utf8))
    }
    func connect(address: String, port: Int) async throws -> Int32 {
        record("connect \(address):\(port)")
        return -1
    }
    func growDisk(particleID: String, diskBytes: UInt64) async throws {
        record("grow \(diskBytes >> 30)")
        if lock.withLock({ failGrow }) { throw ControlError.internal("qemu-img resize failed", detail: "test") }
        lock.withLock { disks[particleID]?.virtualBytes = diskBytes }
    }
    func rebuild(_ spec: MachineSpec) async throws {
        record("rebuild \(spec.image)")
        lock.withLock {
            disks[spec.particleID] = DiskState(virtualBytes: spec.diskBytes, allocatedBytes: 1 << 20, snapshotIDs: [])
        }
    }
    func duplicate(from sourceID: String, to spec: MachineSpec, withMemory: Bool) async throws {
        record("duplicate \(spec.hostname)\(withMemory ? " with memory" : "")")
        lock.withLock {
            if withMemory { sleeping.insert(spec.particleID) }
            disks[spec.particleID] = disks[sourceID].map {
                DiskState(virtualBytes: $0.virtualBytes, allocatedBytes: $0.allocatedBytes, snapshotIDs: [])
            }
        }
    }
    func createSnapshot(particleID: String, snapshotID: String) async throws -> UInt64 {
        record("snapshot")
        lock.withLock { disks[particleID]?.snapshotIDs.append(snapshotID) }
        return 1 << 20
    }
    func restoreSnapshot(particleID: String, snapshotID: String) async throws { record("restore \(snapshotID)") }
    func deleteSnapshot(particleID: String, snapshotID: String) async throws {
        record("delete snapshot \(snapshotID)")
        lock.withLock { disks[particleID]?.snapshotIDs.removeAll { $0 == snapshotID } }
    }
    func serialLog(particleID: String, offset: Int) async throws -> (bytes: [UInt8], next: Int) { ([], offset) }
}

@Suite struct ControlTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("control-\(UUID())")
    let hypervisor = RecordingHypervisor()

    func makeControl() throws -> Control {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: directory.appendingPathComponent("particle.db").path)
        return Control(
            store: store, hypervisor: hypervisor,
            configuration: .init(domain: "particle.localhost", addressPool: try AddressPool(cidr: "10.9.0.0/29")))
    }

    func account(_ control: Control) async throws -> String {
        let key = SSHPublicKey(algorithm: "ssh-ed25519", base64: Data((0..<51).map { UInt8($0) }).base64EncodedString())
        return try await control.account(forSSHKey: key).0.id
    }

    @Test func createAssignsAddresses() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await control.createParticle(accountID: owner, name: "web")
        let api = try await control.createParticle(accountID: owner, name: "api", size: .p2)
        #expect(web.status == .running)
        #expect(web.address == "10.9.0.2")
        #expect(api.address == "10.9.0.3")
        #expect(try await control.particles(accountID: owner).map(\.name) == ["web", "api"])
    }

    @Test func rejectsBeforeStoring() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        _ = try await control.createParticle(accountID: owner, name: "web")
        await #expect(throws: ControlError.conflict("particle 'web' already exists; choose another name or run `delete web`")) {
            try await control.createParticle(accountID: owner, name: "web")
        }
        await #expect(throws: ControlError.self) { try await control.createParticle(accountID: owner, name: "Web_1") }
        await #expect(throws: ControlError.invalidArgument("unknown image 'nope'; use one of: debian-12, ubuntu-24.04 (see `images`)")) {
            try await control.createParticle(accountID: owner, name: "x", image: "nope")
        }
        await #expect(throws: ControlError.unavailable("image 'ubuntu-24.04' is not available on this server: no route")) {
            try await control.createParticle(accountID: owner, name: "x", image: "ubuntu-24.04")
        }
        #expect(try await control.particles(accountID: owner).count == 1)
        #expect(hypervisor.calls.filter { $0.hasPrefix("create") }.count == 1)
    }

    @Test func failedBootEndsInError() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        hypervisor.failBoot = true
        await #expect {
            try await control.createParticle(accountID: owner, name: "web")
        } throws: { error in
            (error as! ControlError).message.contains("failed to boot")
        }
        #expect(try await control.particle(accountID: owner, name: "web").status == .error)
    }

    @Test func otherAccountsSeeNothing() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        _ = try await control.createParticle(accountID: owner, name: "web")
        let otherKey = SSHPublicKey(algorithm: "ssh-ed25519", base64: Data(repeating: 7, count: 51).base64EncodedString())
        let other = try await control.account(forSSHKey: otherKey).0.id
        #expect(other != owner)
        await #expect(throws: ControlError.notFound("particle 'web' not found; run `ls` to see your particles")) {
            try await control.stopParticle(accountID: other, name: "web")
        }
        await #expect(throws: ControlError.self) { try await control.deleteParticle(accountID: other, name: "web") }
        #expect(try await control.particle(accountID: owner, name: "web").status == .running)
    }

    @Test func lifecycleStates() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        _ = try await control.createParticle(accountID: owner, name: "web")
        await #expect(throws: ControlError.invalidState("particle 'web' is already running")) {
            try await control.startParticle(accountID: owner, name: "web")
        }
        let stopped = try await control.stopParticle(accountID: owner, name: "web")
        #expect(stopped.status == .stopped)
        #expect(stopped.stoppedAt != nil)
        // Under the default policy `sleep`, use starts a stopped particle.
        _ = try await control.exec(accountID: owner, name: "web", command: "true")
        #expect(try await control.particle(accountID: owner, name: "web").status == .running)
        // Under `none`, a stop is the user's until `start`.
        _ = try await control.setIdlePolicy(accountID: owner, name: "web", policy: "none")
        _ = try await control.stopParticle(accountID: owner, name: "web")
        await #expect(throws: ControlError.invalidState("particle 'web' is stopped; run `start web` first")) {
            try await control.exec(accountID: owner, name: "web", command: "true")
        }
        #expect(try await control.startParticle(accountID: owner, name: "web").status == .running)
        try await control.deleteParticle(accountID: owner, name: "web")
        #expect(try await control.particles(accountID: owner).isEmpty)
    }

    @Test func tunnelsReachOwnRunningParticle() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let particle = try await control.createParticle(accountID: owner, name: "web")

        let tunnel = try await control.openTunnel(accountID: owner, name: "web", port: 8000)
        #expect(tunnel.particleID == particle.id)
        #expect(hypervisor.lock.withLock { hypervisor.calls.last } == "connect \(particle.address):8000")
        #expect(control.activity.openCount(particle.id) == 1)
        control.closeTunnel(tunnel)
        #expect(control.activity.openCount(particle.id) == 0)

        let otherKey = SSHPublicKey(algorithm: "ssh-ed25519", base64: Data(repeating: 7, count: 51).base64EncodedString())
        let other = try await control.account(forSSHKey: otherKey).0.id
        await #expect(throws: ControlError.notFound("particle 'web' not found; run `ls` to see your particles")) {
            try await control.openTunnel(accountID: other, name: "web", port: 22)
        }
        await #expect(throws: ControlError.invalidArgument("invalid port 0; use 1-65535")) {
            try await control.openTunnel(accountID: owner, name: "web", port: 0)
        }
        _ = try await control.setIdlePolicy(accountID: owner, name: "web", policy: "on")
        _ = try await control.stopParticle(accountID: owner, name: "web")
        await #expect(throws: ControlError.invalidState("particle 'web' is stopped; run `start web` first")) {
            try await control.openTunnel(accountID: owner, name: "web", port: 22)
        }
        #expect(hypervisor.lock.withLock { hypervisor.calls.filter { $0.hasPrefix("connect") }.count } == 1)
    }

    @Test func diskOperationsNeedStopped() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        _ = try await control.createParticle(accountID: owner, name: "web")
        await #expect(throws: ControlError.invalidState("particle 'web' must be stopped to resize; it is running, run `stop web` first")) {
            try await control.resizeParticle(accountID: owner, name: "web", size: "p2")
        }
        await #expect(throws: ControlError.self) { try await control.duplicateParticle(accountID: owner, name: "web", newName: "copy") }
        await #expect(throws: ControlError.self) { try await control.rebuildParticle(accountID: owner, name: "web", image: nil) }
        _ = try await control.stopParticle(accountID: owner, name: "web")

        let resized = try await control.resizeParticle(accountID: owner, name: "web", size: "p2")
        #expect(resized.size == .p2)
        #expect(hypervisor.calls.contains("grow 20"))
        _ = try await control.resizeParticle(accountID: owner, name: "web", size: "p1")
        #expect(!hypervisor.calls.contains("grow 10"), "a disk never shrinks")
        await #expect(throws: ControlError.self) { try await control.resizeParticle(accountID: owner, name: "web", size: "p3") }

        let copy = try await control.duplicateParticle(accountID: owner, name: "web", newName: "copy")
        #expect(copy.status == .stopped)
        #expect(copy.address != "10.9.0.2")
        await #expect(throws: ControlError.self) { try await control.duplicateParticle(accountID: owner, name: "web", newName: "copy") }

        let snapshot = try await control.createSnapshot(accountID: owner, name: "web", snapshotName: "before")
        #expect(snapshot.sizeBytes == 1 << 20)
        await #expect(throws: ControlError.self) { try await control.createSnapshot(accountID: owner, name: "web", snapshotName: "before") }
        await #expect(throws: ControlError.self) { try await control.createSnapshot(accountID: owner, name: "web", snapshotName: "Bad Name") }
        try await control.restoreSnapshot(accountID: owner, name: "web", snapshot: "before")
        _ = try await control.rebuildParticle(accountID: owner, name: "web", image: nil)
        #expect(try await control.snapshots(accountID: owner, name: "web").isEmpty, "a rebuild drops the old disk's snapshots")
    }

    @Test func reconcileCorrectsStatuses() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await control.createParticle(accountID: owner, name: "web")
        _ = try await control.createParticle(accountID: owner, name: "api")
        hypervisor.lock.withLock { _ = hypervisor.running.remove(web.id) }
        try await control.reconcile()
        #expect(try await control.particle(accountID: owner, name: "web").status == .stopped)
        #expect(try await control.particle(accountID: owner, name: "api").status == .running)
        #expect(hypervisor.calls.contains("adopt"))
    }

    @Test func reconcileWaitsForBootingGuests() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        let web = try await control.createParticle(accountID: owner, name: "web")
        // particled was killed while the guest was booting: the guest runs, the row still has status creating.
        try await control.setStatus(web, .creating)
        try await control.reconcile()
        var status = try await control.particle(accountID: owner, name: "web").status
        for _ in 0..<100 where status != .running {
            try await Task.sleep(for: .milliseconds(20))
            status = try await control.particle(accountID: owner, name: "web").status
        }
        #expect(status == .running)
        #expect(hypervisor.calls.contains("wait web"))
    }

    @Test func resolvesHostNames() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let owner = try await account(control)
        _ = try await control.createParticle(accountID: owner, name: "web")
        _ = try await control.createParticle(accountID: owner, name: "web-8000")
        let port = try await control.resolveHost("web-8000-\(owner).particle.localhost")
        #expect(port.particle.name == "web")
        #expect(port.port == 8000)
        let plain = try await control.resolveHost("web-\(owner).particle.localhost")
        #expect(plain.port == 80)
        await #expect(throws: ControlError.self) { try await control.resolveHost("nope-\(owner).particle.localhost") }
    }
}
