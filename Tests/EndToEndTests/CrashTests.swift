import Foundation
import Support
import Testing

/// SIGKILL of particled in the middle of each particle operation, then a restart on the same
/// state directory: every particle must end in a correct state.
///
/// particled is started with `PARTICLE_CRASH_AT=<point>` so that it kills itself at an exact
/// moment of the operation (see `CrashPoint`), or killed from outside while a guest boots. After
/// the restart the tests check the status, the QEMU processes of each particle (none, or the
/// same one as before the crash), the files, the snapshot list against `qemu-img snapshot -l`,
/// and the contents of the disk.
///
/// Guests boot under TCG here, so each test shares its guests across its cases.
@Suite(.serialized) struct CrashTests {
    @Test func lifecycleOperations() throws {
        // Cold creates, so that a create boots and can be killed while QEMU is still paused.
        let rig = try CrashRig(config: ["fast_create": false])
        defer { rig.harness.stop() }

        // A misspelt crash point stops particled at start rather than never firing.
        #expect(throws: HarnessError.self) {
            try rig.harness.restart(environment: [CrashPoint.environmentVariable: "create.nope"])
        }
        #expect(rig.harness.log.contains(
            "particled: unknown crash point 'create.nope' in PARTICLE_CRASH_AT; use one of create.stored,"))
        try rig.harness.restart()

        // Create: killed after the row is written, before the VMM acts. The creation is undone.
        try rig.crash(at: "create.stored") {
            let created = try rig.harness.ssh("create", "a")
            #expect(created.status != 0, "create returned although particled was killed")
        }
        #expect(try rig.get("a").status == 404)
        #expect(try rig.particleDirectories().isEmpty)
        #expect(try rig.allQEMUProcesses().isEmpty)
        #expect(try rig.taps().isEmpty)

        // Create: killed while QEMU runs paused (-S), before `cont`. The guest is adopted and resumed.
        try rig.crash(at: "boot.launched") {
            _ = try rig.api("POST", "/v1/particles", #"{"name": "a"}"#)
        }
        let id = try rig.id("a")
        let pids = try rig.qemuProcesses(id)
        try #require(pids.count == 1, "QEMU of the particle being created: \(pids)")
        try rig.waitForStatus("a", "running")
        #expect(try rig.qemuProcesses(id) == pids, "the adopted QEMU is the same process")
        #expect(rig.harness.log.contains("resumed a guest left paused"))
        #expect(try rig.exec("a", "echo one > /root/marker; sync; cat /root/marker") == "one\n")

        // Rename: killed after the store has the new name. The guest keeps running under it.
        try rig.crash(at: "rename.stored") {
            _ = try rig.api("POST", "/v1/particles/a/rename", #"{"name": "b"}"#)
        }
        #expect(try rig.get("a").status == 404)
        #expect(try rig.status("b") == "running")
        #expect(try rig.qemuProcesses(id) == pids)
        #expect(try rig.exec("b", "cat /root/marker") == "one\n")

        // Snapshot of a running guest: killed while the guest is paused for it. It runs again
        // and no snapshot is left anywhere.
        try rig.crash(at: "snapshot-create.paused") {
            _ = try rig.api("POST", "/v1/particles/b/snapshots", #"{"name": "s1"}"#)
        }
        #expect(try rig.qemuProcesses(id) == pids)
        let report = try rig.api("GET", "/v1/particles/b/status").object()
        #expect((report["vm_stats"] as? [String: Any])?["vm_state"] as? String == "Running")
        #expect(try rig.exec("b", "cat /root/marker") == "one\n")
        #expect(try rig.listedSnapshots("b").isEmpty)
        #expect(try rig.diskSnapshots(id).isEmpty)

        // Snapshot: killed after the disk has it, before the store does. It is listed.
        try rig.crash(at: "snapshot-create.taken") {
            _ = try rig.api("POST", "/v1/particles/b/snapshots", #"{"name": "s1"}"#)
        }
        let listed = try rig.listedSnapshots("b")
        #expect(listed.map(\.name) == ["s1"])
        #expect(try rig.diskSnapshots(id) == listed.map(\.id))
        #expect(try rig.qemuProcesses(id) == pids)
        #expect(try rig.status("b") == "running")

        // Stop: killed after `stopping` is stored, before the guest gets the power-down request. The stop is finished.
        try rig.crash(at: "stop.stored") {
            _ = try rig.api("POST", "/v1/particles/b/stop")
        }
        try rig.waitForStatus("b", "stopped")
        #expect(try rig.qemuProcesses(id).isEmpty)

        // Start: killed after `starting` is stored, before QEMU starts. The particle stays stopped.
        // The folder a kill while the config drive is written leaves behind is removed too.
        let staging = rig.folder(id).appendingPathComponent(".config.img.staging-\(UUID())")
        try FileManager.default.createDirectory(at: staging.appendingPathComponent("network"), withIntermediateDirectories: true)
        try rig.crash(at: "start.stored") {
            _ = try rig.api("POST", "/v1/particles/b/start")
        }
        #expect(try rig.status("b") == "stopped")
        #expect(try rig.qemuProcesses(id).isEmpty)

        // Start: particled killed from outside while the guest boots. The guest is adopted.
        let starting = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? rig.api("POST", "/v1/particles/b/start")
            starting.signal()
        }
        let booting = try rig.waitForQEMU(id)
        Thread.sleep(forTimeInterval: 2)
        rig.harness.killParticled()
        starting.wait()
        try rig.harness.restart()
        try rig.waitForStatus("b", "running")
        #expect(try rig.qemuProcesses(id) == [booting])
        #expect(try rig.exec("b", "cat /root/marker") == "one\n", "the disk kept its file through stop and start")

        // Delete of a running particle: killed after the delete is noted, before the VMM acts.
        // The delete is finished: no particle, no QEMU, no files.
        try rig.crash(at: "delete.stored") {
            _ = try rig.api("DELETE", "/v1/particles/b")
        }
        #expect(try rig.get("b").status == 404)
        #expect(try rig.qemuProcesses(id).isEmpty)
        #expect(try rig.particleDirectories().isEmpty)
        #expect(try rig.taps().isEmpty)
    }

    @Test func sleepAndWake() throws {
        let rig = try CrashRig()
        defer { rig.harness.stop() }
        try rig.waitForTemplate()
        #expect(try rig.api("POST", "/v1/particles", #"{"name": "z"}"#).status == 201)
        let id = try rig.id("z")
        #expect(try rig.exec("z", "systemd-run --unit marker sleep 86400 >/dev/null 2>&1; echo ok") == "ok\n")
        let files = rig.particlesFolder.appendingPathComponent(id)
        let saved = { FileManager.default.fileExists(atPath: files.appendingPathComponent("memory.state").path) }
        let leftovers = {
            ((try? FileManager.default.contentsOfDirectory(atPath: files.path)) ?? []).filter { $0.hasSuffix(".partial") }
        }

        // Sleep, killed once the status says stopping: the guest still runs and is adopted.
        let running = try rig.qemuProcesses(id)
        try rig.crash(at: "sleep.stored") { _ = try rig.api("POST", "/v1/particles/z/sleep") }
        try rig.waitForStatus("z", "running")
        #expect(try rig.qemuProcesses(id) == running, "the same QEMU is adopted")
        #expect(!saved())

        // Sleep, killed with the memory saved and QEMU paused: the particle sleeps.
        try rig.crash(at: "sleep.saved") { _ = try rig.api("POST", "/v1/particles/z/sleep") }
        try rig.waitForStatus("z", "sleeping")
        #expect(try rig.qemuProcesses(id).isEmpty)
        #expect(saved() && leftovers().isEmpty, "\(leftovers())")

        // Wake, killed with the memory loaded but the guest not resumed: the file is whole, the
        // half-started QEMU is ended, and the particle sleeps on.
        try rig.crash(at: "wake.loaded") { _ = try rig.api("POST", "/v1/particles/z/start") }
        try rig.waitForStatus("z", "sleeping")
        #expect(try rig.qemuProcesses(id).isEmpty)
        #expect(saved())

        // Wake, killed after the guest resumed: it is adopted running and its memory file gone.
        try rig.crash(at: "wake.resumed") { _ = try rig.api("POST", "/v1/particles/z/start") }
        try rig.waitForStatus("z", "running")
        #expect(try rig.qemuProcesses(id).count == 1)
        #expect(!saved())
        // Through all of it the guest's processes lived on.
        #expect(try rig.exec("z", "systemctl is-active marker") == "active\n")
    }

    @Test func diskOperations() throws {
        let rig = try CrashRig()
        defer { rig.harness.stop() }

        // Create from the image's template: killed with the template guest loaded and paused,
        // before it ran or took the particle's identity. The restart resumes it with its own
        // identity at once. Without it the guest would keep the template's address, and the
        // wait for its sshd would last the whole boot timeout (180 s).
        try rig.waitForTemplate()
        try rig.crash(at: "create.template-loaded") {
            _ = try rig.api("POST", "/v1/particles", #"{"name": "c"}"#)
        }
        let loaded = try rig.id("c")
        let loadedPIDs = try rig.qemuProcesses(loaded)
        #expect(loadedPIDs.count == 1, "QEMU of the particle being created: \(loadedPIDs)")
        try rig.waitForStatus("c", "running", timeout: 30)
        #expect(try rig.qemuProcesses(loaded) == loadedPIDs, "the adopted QEMU is the same process")
        #expect(rig.harness.log.contains("applied the identity of a resumed guest"))
        #expect(try rig.exec("c", "hostname") == "c\n")
        #expect(try rig.api("DELETE", "/v1/particles/c").status == 204)

        // Create from the image's template: killed once the guest is resumed with its identity.
        // The guest is adopted and becomes running.
        try rig.crash(at: "create.template-resumed") {
            _ = try rig.api("POST", "/v1/particles", #"{"name": "d"}"#)
        }
        let id = try rig.id("d")
        let pids = try rig.qemuProcesses(id)
        #expect(pids.count == 1, "QEMU of the particle being created: \(pids)")
        try rig.waitForStatus("d", "running")
        #expect(try rig.qemuProcesses(id) == pids, "the adopted QEMU is the same process")
        #expect(try rig.exec("d", "hostname") == "d\n")
        #expect(try rig.exec("d", "echo one > /root/marker; sync") == "")
        #expect(try rig.api("POST", "/v1/particles/d/snapshots", #"{"name": "s1"}"#).status == 201)
        #expect(try rig.exec("d", "echo two > /root/marker; sync") == "")
        let s1 = try #require(try rig.listedSnapshots("d").first?.id)

        // Stop: killed after the guest got the power-down request. The stop is finished.
        try rig.crash(at: "stop.powerdown-sent") {
            _ = try rig.api("POST", "/v1/particles/d/stop")
        }
        try rig.waitForStatus("d", "stopped")
        #expect(try rig.qemuProcesses(id).isEmpty)
        #expect(try rig.guestFile(id, "/root/marker") == "two\n")

        // Duplicate: killed before and after the copy's disk is written. The copy is removed.
        for point in ["duplicate.stored", "duplicate.copied"] {
            try rig.crash(at: point) {
                _ = try rig.api("POST", "/v1/particles/d/duplicate", #"{"name": "e"}"#)
            }
            #expect(try rig.get("e").status == 404, "\(point)")
            #expect(try rig.particleDirectories() == [id], "\(point)")
            #expect(try rig.status("d") == "stopped", "\(point)")
            #expect(try rig.diskSnapshots(id) == [s1], "\(point)")
        }

        // Resize: killed before the disk grows. The resize is finished.
        try rig.crash(at: "resize.stored") {
            _ = try rig.api("PUT", "/v1/particles/d/resize", #"{"size": "p2"}"#)
        }
        let resized = try rig.api("GET", "/v1/particles/d").object()
        #expect(resized["size"] as? String == "p2")
        #expect(resized["status"] as? String == "stopped")
        #expect(try rig.diskVirtualBytes(id) == 20 << 30)

        // Snapshot restore: killed before the disk is rolled back. The roll-back is finished.
        try rig.crash(at: "snapshot-restore.stored") {
            _ = try rig.api("POST", "/v1/particles/d/snapshots/s1/restore")
        }
        let restored = try rig.guestFile(id, "/root/marker")
        #expect(restored == "one\n", "\(rig.harness.log.suffix(6000))")
        #expect(try rig.listedSnapshots("d").map(\.id) == [s1])

        // Snapshot of a stopped disk: killed before it is taken. Nothing is left.
        try rig.crash(at: "snapshot-create.stored") {
            _ = try rig.api("POST", "/v1/particles/d/snapshots", #"{"name": "s2"}"#)
        }
        #expect(try rig.listedSnapshots("d").map(\.id) == [s1])
        #expect(try rig.diskSnapshots(id) == [s1])

        // Snapshot delete: killed before and after the disk drops it. The delete is finished.
        #expect(try rig.api("POST", "/v1/particles/d/snapshots", #"{"name": "s2"}"#).status == 201)
        let s2 = try #require(try rig.listedSnapshots("d").last?.id)
        try rig.crash(at: "snapshot-delete.stored") {
            _ = try rig.api("DELETE", "/v1/particles/d/snapshots/s1")
        }
        #expect(try rig.listedSnapshots("d").map(\.id) == [s2])
        #expect(try rig.diskSnapshots(id) == [s2])
        try rig.crash(at: "snapshot-delete.deleted") {
            _ = try rig.api("DELETE", "/v1/particles/d/snapshots/s2")
        }
        #expect(try rig.listedSnapshots("d").isEmpty)
        #expect(try rig.diskSnapshots(id).isEmpty)
        #expect(try rig.guestFile(id, "/root/marker") == "one\n", "deleting snapshots kept the disk's data")

        // Rebuild: killed before, and after the fresh disk replaced the old one. The rebuild is
        // finished: a fresh disk without the file or snapshots, of the particle's size.
        for point in ["rebuild.stored", "rebuild.replaced"] {
            #expect(try rig.api("POST", "/v1/particles/d/snapshots", #"{"name": "s3"}"#).status == 201, "\(point)")
            try rig.crash(at: point) {
                _ = try rig.api("POST", "/v1/particles/d/rebuild")
            }
            #expect(try rig.guestFile(id, "/root/marker") == nil, "\(point)")
            #expect(try rig.listedSnapshots("d").isEmpty, "\(point)")
            #expect(try rig.diskSnapshots(id).isEmpty, "\(point)")
            #expect(try rig.diskVirtualBytes(id) == 20 << 30, "\(point)")
            #expect(try rig.status("d") == "stopped", "\(point)")
        }

        // After all of this the particle still boots, with its new size and name.
        let started = try rig.api("POST", "/v1/particles/d/start")
        try #require(started.status == 200, "start: \(started.body)\n\(rig.harness.log.suffix(2000))")
        #expect(try rig.exec("d", "nproc; hostname") == "2\nd\n")
        #expect(try rig.qemuProcesses(id).count == 1)

        // Delete: killed after the files are gone, before the row is. The delete is finished.
        try rig.crash(at: "delete.destroyed") {
            _ = try rig.api("DELETE", "/v1/particles/d")
        }
        #expect(try rig.get("d").status == 404)
        #expect(try rig.qemuProcesses(id).isEmpty)
        #expect(try rig.particleDirectories().isEmpty)
    }

    @Test func templateBuildInterrupted() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        // Image folders of this test's own (links to the cached image files) without a
        // template, so that particled builds one at its start.
        let images = harness.stateDirectory.appendingPathComponent("images")
        try FileManager.default.removeItem(at: images)
        let cache = ParticledHarness.imageCache.appendingPathComponent("images")
        for name in try FileManager.default.contentsOfDirectory(atPath: cache.path) where name.hasPrefix("debian-12-") {
            let source = cache.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: source.appendingPathComponent("image.json").path) else { continue }
            let folder = images.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for file in ["image.json", "vmlinux", "initramfs.cpio.gz", "rootfs.qcow2"] {
                try FileManager.default.createSymbolicLink(
                    at: folder.appendingPathComponent(file), withDestinationURL: source.appendingPathComponent(file))
            }
        }
        try harness.start()

        // The build's guest boots in a folder of its own (this test creates no particle), and
        // particled is killed meanwhile.
        let particles = harness.stateDirectory.appendingPathComponent("particles")
        var build: (id: String, pid: Int32)?
        let deadline = Date().addingTimeInterval(60)
        while build == nil && Date() < deadline {
            for id in (try? FileManager.default.contentsOfDirectory(atPath: particles.path)) ?? [] {
                let pidFile = particles.appendingPathComponent("\(id)/qemu.pid")
                guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
                    let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0
                else { continue }
                build = (id, pid)
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        let (id, pid) = try #require(build, "no template build started:\n\(harness.log.suffix(2000))")
        harness.killParticled()
        #expect(kill(pid, 0) == 0, "the build's QEMU outlives particled")
        // A template folder half written when particled was killed, as `saveTemplate` leaves it.
        let imageFolders = try FileManager.default.contentsOfDirectory(atPath: images.path)
        let templates = try #require(
            imageFolders.map { images.appendingPathComponent("\($0)/templates") }
                .first { FileManager.default.fileExists(atPath: $0.path) })
        let templateFolder = templates.appendingPathComponent("1x2048M")
        let halfWritten = templates.appendingPathComponent(".1x2048M.build-999999")
        try FileManager.default.createDirectory(at: halfWritten, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: halfWritten.appendingPathComponent("template.json"))

        // Without fast create the restart builds no template again, and it removes the old build.
        try harness.start(config: ["fast_create": false])
        // The killed QEMU may stay a zombie for a moment, until init reaps it.
        let reaped = Date().addingTimeInterval(10)
        while kill(pid, 0) == 0 && Date() < reaped { Thread.sleep(forTimeInterval: 0.1) }
        #expect(kill(pid, 0) != 0, "the interrupted build's QEMU (pid \(pid)) still runs")
        #expect(!FileManager.default.fileExists(atPath: particles.appendingPathComponent(id).path))
        #expect(!FileManager.default.fileExists(atPath: halfWritten.path))
        #expect(!FileManager.default.fileExists(atPath: templateFolder.appendingPathComponent("template.json").path))
        let links = try Command.run("ip", ["-n", harness.namespace, "-o", "link", "show"]).output
        #expect(!links.contains(": pt"), "\(links)")
        #expect(harness.log.contains("msg=\"interrupted template build removed\" build=\(id) qemu_pid=\(pid)"))
        #expect(harness.log.contains("msg=\"half-written template removed\""))
    }
}

/// One particled, its account and helpers to crash it and inspect what is left.
///
/// To cover one more operation, call `crash(at:during:)` with its crash point (add the point to
/// `CrashPoint`) and the request that reaches it, then check the particle with the helpers below.
struct CrashRig: Sendable {
    let harness: ParticledHarness
    let key: String

    /// Starts particled with `config` as its configuration file.
    init(config: [String: Any]? = nil) throws {
        harness = try ParticledHarness()
        do {
            try harness.start(config: config)
            let account = try harness.createAccount(keyPath: harness.keyPath)
            guard let key = try account.object()["api_key"] as? String else {
                throw HarnessError("account creation failed: \(account.body)")
            }
            self.key = key
        } catch {
            harness.stop()
            throw error
        }
    }

    /// Restarts particled with crash point `point` selected, runs `operation`, which must reach
    /// it, waits for particled to kill itself there and starts it again without the crash
    /// point. Reconciliation has run when this returns; its background steps (an adopted guest
    /// finishing its boot, a stop being finished) may still run.
    ///
    /// Afterwards it checks that no particle folder contains a temporary file.
    func crash(at point: String, during operation: () throws -> Void) throws {
        try harness.restart(environment: [CrashPoint.environmentVariable: point])
        try operation()
        try harness.waitForCrash(at: point)
        try harness.restart()
        let leftovers = try temporaryFiles()
        #expect(leftovers.isEmpty, "temporary files after crash point \(point): \(leftovers)")
    }

    /// Sends a request to the REST API with the account's key.
    func api(_ method: String, _ path: String, _ json: String? = nil) throws -> APIResult {
        try harness.api(method, path, key: key, json: json)
    }

    func get(_ name: String) throws -> APIResult { try api("GET", "/v1/particles/\(name)") }

    func id(_ name: String) throws -> String {
        let particle = try get(name)
        guard let id = try particle.object()["id"] as? String else {
            throw HarnessError("particle \(name) not found: \(particle.body)\n\(harness.log.suffix(4000))")
        }
        return id
    }

    func status(_ name: String) throws -> String? {
        try get(name).object()["status"] as? String
    }

    /// Polls until particle `name` has `status`, because an adopted guest may still be booting.
    func waitForStatus(_ name: String, _ status: String, timeout: TimeInterval = 180) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var current = try self.status(name)
        while current != status && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            current = try self.status(name)
        }
        guard current == status else {
            throw HarnessError(
                "particle \(name) is \(current ?? "missing"), expected \(status) within \(Int(timeout)) s:\n"
                    + harness.log.suffix(3000))
        }
    }

    /// Runs `command` in the guest over REST and returns its output.
    func exec(_ name: String, _ command: String) throws -> String {
        let result = try api("POST", "/v1/particles/\(name)/exec", try jsonText(["command": command]))
        guard let output = try result.object()["output"] as? String else {
            throw HarnessError("exec in \(name) failed: \(result.body)")
        }
        return output
    }

    func listedSnapshots(_ name: String) throws -> [(id: String, name: String)] {
        let result = try api("GET", "/v1/particles/\(name)/snapshots")
        guard let snapshots = try result.object()["snapshots"] as? [[String: Any]] else {
            throw HarnessError("snapshot list of \(name) failed: \(result.body)")
        }
        return snapshots.map { ($0["id"] as? String ?? "", $0["name"] as? String ?? "") }
    }

    var particlesFolder: URL { harness.stateDirectory.appendingPathComponent("particles") }

    func folder(_ id: String) -> URL { particlesFolder.appendingPathComponent(id) }

    func disk(_ id: String) -> String { folder(id).appendingPathComponent("disk.qcow2").path }

    /// Returns the particles' tap devices in the network namespace.
    func taps() throws -> [String] {
        let output = try Command.run("ip", ["-n", harness.namespace, "-o", "link", "show"]).output
        return output.split(separator: "\n").compactMap { line in
            let name = line.split(separator: ":").dropFirst().first?.trimmingCharacters(in: .whitespaces)
            return name.flatMap { $0.hasPrefix("pt") ? $0.components(separatedBy: "@")[0] : nil }
        }
    }

    /// Returns the ids of the particles that have a folder of files.
    func particleDirectories() throws -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: particlesFolder.path)) ?? []
        return names.sorted()
    }

    /// Returns the temporary files of disk operations in any particle's folder.
    func temporaryFiles() throws -> [String] {
        try particleDirectories().flatMap { id in
            let names = try FileManager.default.contentsOfDirectory(
                atPath: particlesFolder.appendingPathComponent(id).path)
            return names.filter { $0.hasSuffix(".new") || $0.contains("staging") }.map { "\(id)/\($0)" }
        }
    }

    /// Returns the PIDs of the QEMU processes of particle `id`, found by its QMP socket path.
    func qemuProcesses(_ id: String) throws -> [Int32] {
        let socket = particlesFolder.appendingPathComponent("\(id)/qmp.sock").path
        return try pids(matching: "qemu-system.*\(socket)")
    }

    /// Returns the PIDs of every QEMU of this particled's state directory.
    func allQEMUProcesses() throws -> [Int32] {
        try pids(matching: "qemu-system.*\(harness.stateDirectory.path)")
    }

    private func pids(matching pattern: String) throws -> [Int32] {
        let result = try Command.runAllowingFailure("pgrep", ["-f", pattern])
        return result.output.split(separator: "\n").compactMap { Int32($0) }.sorted()
    }

    /// Waits until the image cache has the template that creates a 1-vCPU particle without a
    /// boot. particled builds it in the background at its first start on a new cache.
    func waitForTemplate(timeout: TimeInterval = 300) throws {
        let images = ParticledHarness.imageCache.appendingPathComponent("images").path
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let names = (try? FileManager.default.subpathsOfDirectory(atPath: images)) ?? []
            if names.contains(where: { $0.hasSuffix("templates/1x2048M/template.json") }) { return }
            Thread.sleep(forTimeInterval: 1)
        }
        throw HarnessError("no template in \(images) within \(Int(timeout)) s:\n\(harness.log.suffix(2000))")
    }

    /// Waits until particle `id`'s QEMU has daemonized and written its PID file, and returns
    /// that PID.
    func waitForQEMU(_ id: String, timeout: TimeInterval = 60) throws -> Int32 {
        let pidFile = folder(id).appendingPathComponent("qemu.pid")
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            // The process that starts first forks the daemon and exits, and the file names the daemon.
            let text = (try? String(contentsOf: pidFile, encoding: .utf8)) ?? ""
            if let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                try qemuProcesses(id) == [pid]
            {
                return pid
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw HarnessError("no QEMU of particle \(id) within \(Int(timeout)) s:\n\(harness.log.suffix(2000))")
    }

    /// Returns the tags of the disk's internal snapshots, as `qemu-img snapshot -l` lists them.
    func diskSnapshots(_ id: String) throws -> [String] {
        let output = try Command.run("qemu-img", ["snapshot", "-l", "-U", disk(id)]).output
        // A header line ("ID TAG VM-SIZE ...") precedes one line per snapshot.
        return output.split(separator: "\n").dropFirst(2).compactMap { line in
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            return columns.count > 1 ? String(columns[1]) : nil
        }
    }

    func diskVirtualBytes(_ id: String) throws -> Int {
        let output = try Command.run("qemu-img", ["info", "-U", "--output=json", disk(id)]).output
        return try jsonObject(output)["virtual-size"] as? Int ?? 0
    }

    /// Reads file `path` of a stopped particle's root file system from its disk, without booting
    /// it. Returns nil when the file does not exist.
    func guestFile(_ id: String, _ path: String) throws -> String? {
        let raw = harness.directory.appendingPathComponent("disk-\(UUID()).raw").path
        defer { try? FileManager.default.removeItem(atPath: raw) }
        // The root file system fills the whole disk, without a partition table.
        try Command.run("qemu-img", ["convert", "-U", "-O", "raw", disk(id), raw])
        // A snapshot of a running guest can hold writes still in the ext4 journal, which
        // debugfs does not read, so the copy's journal is replayed first as a boot would.
        let replay = try Command.runAllowingFailure("e2fsck", ["-y", "-E", "journal_only", raw])
        guard replay.status <= 1 else {
            throw HarnessError("replaying the journal of \(id)'s disk failed: \(replay.output)\(replay.errorOutput)")
        }
        let result = try Command.run("debugfs", ["-R", "cat \(path)", raw])
        if result.errorOutput.contains("File not found") { return nil }
        return result.output
    }
}
