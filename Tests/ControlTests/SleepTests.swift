import Foundation
import Support
import Testing

@testable import Control

/// Sleep, wake and the idle scheduler's decisions against the recording hypervisor, with a clock
/// the tests move.
@Suite struct SleepTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sleep-\(UUID())")
    let hypervisor = RecordingHypervisor()
    let now = Locked(Date(timeIntervalSince1970: 1_800_000_000))

    func makeControl() throws -> Control {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: directory.appendingPathComponent("particle.db").path)
        let now = self.now
        return Control(
            store: store, hypervisor: hypervisor,
            configuration: .init(
                domain: "particle.localhost", addressPool: try AddressPool(cidr: "10.9.0.0/24"),
                idle: IdleConfiguration(defaultTimeoutSeconds: 60)),
            clock: { now.withLock { $0 } })
    }

    func owner(_ control: Control) async throws -> String {
        let key = SSHPublicKey(algorithm: "ssh-ed25519", base64: Data((0..<51).map { UInt8($0) }).base64EncodedString())
        return try await control.account(forSSHKey: key).0.id
    }

    func advance(_ seconds: TimeInterval) {
        now.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    /// Runs one scheduler look and waits for the actions it started.
    func look(_ scheduler: IdleScheduler) async throws {
        await scheduler.check()
        try await Task.sleep(for: .milliseconds(200))
    }

    @Test func sleepWakeAndWrongStates() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let account = try await owner(control)
        _ = try await control.createParticle(accountID: account, name: "web")
        #expect(try await control.sleepParticle(accountID: account, name: "web").status == .sleeping)
        await #expect(throws: ControlError.invalidState("particle 'web' is already sleeping")) {
            try await control.sleepParticle(accountID: account, name: "web")
        }
        await #expect(throws: ControlError.self) {
            try await control.resizeParticle(accountID: account, name: "web", size: "p2")
        }
        do {
            _ = try await control.resizeParticle(accountID: account, name: "web", size: "p2")
        } catch let error as ControlError {
            #expect(error.code == .invalidState)
            #expect(error.message.contains("run `stop web` first"), "\(error.message)")
        }
        // `start` wakes it; `stop` of a sleeping particle discards the saved memory.
        #expect(try await control.startParticle(accountID: account, name: "web").status == .running)
        #expect(hypervisor.calls.contains("wake web"))
        _ = try await control.sleepParticle(accountID: account, name: "web")
        #expect(try await control.stopParticle(accountID: account, name: "web").status == .stopped)
        #expect(hypervisor.calls.contains("discard"))
        await #expect(throws: ControlError.invalidState("particle 'web' is stopped; only a running particle can sleep (`start web` boots it)")) {
            try await control.sleepParticle(accountID: account, name: "web")
        }
    }

    @Test func concurrentUseSharesOneWake() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let account = try await owner(control)
        _ = try await control.createParticle(accountID: account, name: "web")
        let asleep = try await control.sleepParticle(accountID: account, name: "web")
        try await withThrowingTaskGroup(of: ParticleStatus.self) { group in
            for _ in 0..<10 {
                group.addTask { try await control.ensureRunning(asleep, reason: "test").status }
            }
            for try await status in group { #expect(status == .running) }
        }
        #expect(hypervisor.lock.withLock { hypervisor.calls.filter { $0.hasPrefix("wake") }.count } == 1)
    }

    @Test func schedulerSleepsIdleParticlesOnly() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let account = try await owner(control)
        let web = try await control.createParticle(accountID: account, name: "web")
        _ = try await control.createParticle(accountID: account, name: "db")
        _ = try await control.setIdlePolicy(accountID: account, name: "db", policy: "none")
        let scheduler = IdleScheduler(control: control)

        advance(30)
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .running)

        // An open activity holds it past its timeout; its end starts the timeout again.
        let activity = control.activity.begin(web.id, .ssh, detail: "key laptop")
        advance(120)
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .running)
        let report = try await control.whyAwake(accountID: account, name: "web")
        #expect(report.activities.map(\.detail) == ["key laptop"])
        #expect(report.sleepsAt == nil)
        control.activity.end(web.id, id: activity)
        advance(59)
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .running)
        #expect(try await control.whyAwake(accountID: account, name: "web").summary.contains("sleeps in 1 s"))
        advance(2)
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .sleeping)
        #expect(try await control.particle(accountID: account, name: "db").status == .running)
    }

    @Test func schedulerFollowsScheduleWindows() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let account = try await owner(control)
        _ = try await control.createParticle(accountID: account, name: "web")
        // 1_800_000_000 is Friday 2027-01-15 08:00 UTC.
        _ = try await control.setIdlePolicy(
            accountID: account, name: "web", policy: "schedule", schedule: "mon-fri 09:00-17:00 UTC")
        let scheduler = IdleScheduler(control: control)
        advance(120)
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .sleeping)
        advance(3600)  // 09:02: the window opens
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .running)
        advance(3600)  // idle but inside the window
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .running)
        advance(8 * 3600)  // 18:02, outside
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .sleeping)
    }

    @Test func schedulerRestartsAlwaysOnGuests() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let account = try await owner(control)
        let web = try await control.createParticle(accountID: account, name: "web")
        _ = try await control.setIdlePolicy(accountID: account, name: "web", policy: "on")
        let scheduler = IdleScheduler(control: control)
        // The guest powers off by itself.
        _ = hypervisor.lock.withLock { hypervisor.running.remove(web.id) }
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .stopped)
        advance(2)  // past the first backoff (1 s)
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .running)
        // A stop by the user is not undone.
        _ = try await control.stopParticle(accountID: account, name: "web")
        advance(600)
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .stopped)
    }

    @Test func fullMemoryDirectoryRefusesStarts() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let account = try await owner(control)
        _ = try await control.createParticle(accountID: account, name: "web")
        _ = try await control.sleepParticle(accountID: account, name: "web")
        _ = try await control.createParticle(accountID: account, name: "db")
        _ = try await control.stopParticle(accountID: account, name: "db")
        hypervisor.lock.withLock { hypervisor.memoryFreeBytes = 1 << 30 }
        let callsBefore = hypervisor.lock.withLock { hypervisor.calls.count }

        // Create: refused before anything is stored.
        await #expect(throws: ControlError.self) {
            try await control.createParticle(accountID: account, name: "new")
        }
        #expect(try await control.particles(accountID: account).map(\.name).sorted() == ["db", "web"])

        // Wake: the particle sleeps on with its memory, and the message names the particle.
        do {
            _ = try await control.startParticle(accountID: account, name: "web")
            Issue.record("a wake was allowed without room in memory_dir")
        } catch let error as ControlError {
            #expect(error.code == .unavailable)
            #expect(error.message.hasPrefix("particle 'web' did not wake: not enough room in memory_dir"), "\(error.message)")
        }
        #expect(try await control.particle(accountID: account, name: "web").status == .sleeping)
        #expect(await hypervisor.hasSavedMemory(particleID: try await control.particle(accountID: account, name: "web").id))

        // Through the proxy, the rejected wake is distinct from a guest port that refuses.
        let sleeping = try await control.particle(accountID: account, name: "web")
        do {
            _ = try await control.connectWaking(to: ProxyDestination(particle: sleeping, port: 8000), hold: .seconds(5))
            Issue.record("the proxy connected to a particle that could not wake")
        } catch {
            #expect(Control.isWakeFailure(error), "\(error)")
            #expect(!Control.isWakeTimeout(error))
            #expect("\(error)".contains("not enough room in memory_dir"))
        }

        // Start of a stopped particle: it stays stopped.
        await #expect(throws: ControlError.self) {
            try await control.startParticle(accountID: account, name: "db")
        }
        #expect(try await control.particle(accountID: account, name: "db").status == .stopped)
        #expect(hypervisor.lock.withLock { hypervisor.calls.count } == callsBefore, "the VMM was not asked to start anything")

        // With room again, both start.
        hypervisor.lock.withLock { hypervisor.memoryFreeBytes = .max }
        #expect(try await control.startParticle(accountID: account, name: "web").status == .running)
        #expect(try await control.startParticle(accountID: account, name: "db").status == .running)
    }

    @Test func guestDeathEndsItsActivities() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let account = try await owner(control)
        let web = try await control.createParticle(accountID: account, name: "web")
        _ = control.activity.begin(web.id, .exec, detail: "sleep 600")
        _ = control.activity.begin(web.id, .ssh, detail: "key laptop, port 22")
        hypervisor.lock.withLock {
            hypervisor.exit = MachineExit(status: "killed by signal 7 (SIGBUS)", qemuOutput: "", consoleTail: "login:")
            _ = hypervisor.running.remove(web.id)
        }
        let scheduler = IdleScheduler(control: control)
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .stopped)
        #expect(hypervisor.calls.contains("ended"))
        #expect(control.activity.openCount(web.id) == 0)
        #expect(try await control.whyAwake(accountID: account, name: "web").activities.isEmpty)
    }

    @Test func statusShowsWakeTimeAndHealth() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let account = try await owner(control)
        let web = try await control.createParticle(accountID: account, name: "web")
        let start = now.withLock { $0 }
        hypervisor.lock.withLock {
            hypervisor.stats = MachineStats(
                vcpus: 1, memoryTotalBytes: 2 << 30, diskTotalBytes: 10 << 30, uptimeSeconds: 5, vmState: "Running")
            hypervisor.timers[web.id] = GuestTimers(next: GuestTimer(due: start.addingTimeInterval(7200)))
        }
        func fields() async throws -> [String: Any] {
            let report = try await control.status(accountID: account, name: "web")
            return try #require(try JSONSerialization.jsonObject(with: Data(report.json.serialized().utf8)) as? [String: Any])
        }

        // Running, and its QEMU responds: healthy, and nothing to wake.
        var running = try await fields()
        #expect(running["healthy"] as? Bool == true)
        #expect(running["wake_at"] is NSNull)
        hypervisor.lock.withLock { hypervisor.stats = nil }
        running = try await fields()
        #expect(running["healthy"] as? Bool == false, "a QEMU that does not respond is not healthy")

        // Asleep: no guest to check, and the guest's timer wakes it in two hours.
        _ = try await control.sleepParticle(accountID: account, name: "web")
        let asleep = try await fields()
        #expect(asleep["healthy"] as? Bool == false)
        #expect(asleep["wake_at"] as? String == "2027-01-15T10:00:00Z")

        // 1_800_000_000 is Friday 2027-01-15 08:00 UTC: the window opening at 09:00 comes first.
        _ = try await control.setIdlePolicy(
            accountID: account, name: "web", policy: "schedule", schedule: "mon-fri 09:00-17:00 UTC")
        #expect(try await fields()["wake_at"] as? String == "2027-01-15T09:00:00Z")

        // Stopped under a schedule, it starts when the window opens; under `sleep`, nothing starts it.
        _ = try await control.stopParticle(accountID: account, name: "web")
        #expect(try await fields()["wake_at"] as? String == "2027-01-15T09:00:00Z")
        _ = try await control.setIdlePolicy(accountID: account, name: "web", policy: "sleep")
        #expect(try await fields()["wake_at"] is NSNull)
        #expect(try await fields()["healthy"] as? Bool == false)
    }

    @Test func schedulerWakesForGuestTimers() async throws {
        let control = try makeControl()
        defer { try? FileManager.default.removeItem(at: directory) }
        let account = try await owner(control)
        let web = try await control.createParticle(accountID: account, name: "web")
        let scheduler = IdleScheduler(control: control)
        let start = now.value
        let job = GuestTimer(due: start.addingTimeInterval(600), kind: .cron, name: "/var/spool/cron/crontabs/root:1")
        hypervisor.lock.withLock { hypervisor.timers[web.id] = GuestTimers(next: job) }

        // Idle past its 60 s timeout, it sleeps with the job's time and name recorded.
        advance(61)
        try await look(scheduler)
        let asleep = try await control.particle(accountID: account, name: "web")
        #expect(asleep.status == .sleeping)
        #expect(asleep.wakeAt == job.due)
        #expect(asleep.wakeReason == "cron job /var/spool/cron/crontabs/root:1")
        let sleeping = try await control.whyAwake(accountID: account, name: "web")
        #expect(sleeping.summary.contains("its guest's cron job /var/spool/cron/crontabs/root:1 wakes it at"), "\(sleeping.summary)")
        #expect(sleeping.json.serialized().contains("\"wake_reason\":\"cron job /var/spool/cron/crontabs/root:1\""), "\(sleeping.json)")

        // A copy with the memory resumes the same guest, so it wakes for the same job.
        // A copy of the disk alone boots afresh and has no timer to wait for.
        let memoryCopy = try await control.duplicateParticle(accountID: account, name: "web", newName: "copy", withMemory: true)
        #expect(memoryCopy.wakeAt == job.due)
        #expect(memoryCopy.wakeReason == asleep.wakeReason)
        let diskCopy = try await control.duplicateParticle(accountID: account, name: "web", newName: "disk")
        #expect(diskCopy.wakeAt == nil)
        #expect(diskCopy.wakeReason == nil)
        try await control.deleteParticle(accountID: account, name: "copy")
        try await control.deleteParticle(accountID: account, name: "disk")

        // At the job's time it wakes, and while the job's minute lasts it stays awake.
        advance(538)
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .sleeping)
        advance(1)
        try await look(scheduler)
        let awake = try await control.particle(accountID: account, name: "web")
        #expect(awake.status == .running)
        #expect(awake.wakeAt == nil)
        #expect(awake.wakeReason == nil)
        advance(61)
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .running)
        let held = try await control.whyAwake(accountID: account, name: "web")
        #expect(held.summary.contains("cron job /var/spool/cron/crontabs/root:1 (due"), "\(held.summary)")

        // A cron job that runs keeps it awake too; once it ends, the particle sleeps.
        let later = GuestTimer(due: now.value.addingTimeInterval(3600), kind: .cron, name: "/etc/cron.d/backup:2")
        hypervisor.lock.withLock { hypervisor.timers[web.id] = GuestTimers(next: later, runningCronJob: 812) }
        advance(61)
        try await look(scheduler)
        #expect(try await control.particle(accountID: account, name: "web").status == .running)
        let running = try await control.whyAwake(accountID: account, name: "web")
        #expect(running.summary.contains("running cron job (pid 812)"), "\(running.summary)")
        hypervisor.lock.withLock { hypervisor.timers[web.id] = GuestTimers(next: later) }
        advance(61)
        try await look(scheduler)
        let done = try await control.particle(accountID: account, name: "web")
        #expect(done.status == .sleeping)
        #expect(done.wakeReason == "cron job /etc/cron.d/backup:2")
    }

    @Test func schedulerLeavesUnpaidParticlesAsleep() async throws {
        let fixture = try BillingFixture { $0.requireBalance = true }
        defer { fixture.remove() }
        let owner = try await fixture.account()
        let grant = LedgerTransaction(accountID: owner, amountCents: 1, kind: .grant, createdAt: fixture.clock.now)
        #expect(try await fixture.store.insertTransaction(grant))
        let web = try await fixture.control.createParticle(accountID: owner, name: "web")
        let timer = GuestTimer(due: fixture.clock.now.addingTimeInterval(60), kind: .systemd, name: "backup.timer")
        fixture.hypervisor.lock.withLock { fixture.hypervisor.timers[web.id] = GuestTimers(next: timer) }
        _ = try await fixture.control.sleepParticle(accountID: owner, name: "web")
        let charge = LedgerTransaction(accountID: owner, amountCents: -1, kind: .usage, createdAt: fixture.clock.now)
        #expect(try await fixture.store.insertTransaction(charge))
        #expect(try await fixture.balance(owner) == 0)

        // Woken at zero balance, it would be put to sleep again at the next look.
        let scheduler = IdleScheduler(control: fixture.control)
        fixture.clock.advance(seconds: 120)
        await scheduler.check()
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await fixture.control.particle(accountID: owner, name: "web").status == .sleeping)

        let topUp = LedgerTransaction(accountID: owner, amountCents: 500, kind: .grant, createdAt: fixture.clock.now)
        #expect(try await fixture.store.insertTransaction(topUp))
        await scheduler.check()
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await fixture.control.particle(accountID: owner, name: "web").status == .running)
    }
}
