import Control
import Foundation
import Support

/// Sleep and wake.
///
/// A running guest's RAM is a shared mapping of a tmpfs file that was unlinked once QEMU mapped
/// it, so it is never on a disk. A sleep pauses the guest, migrates its device state with
/// `x-ignore-shared` (a few hundred KiB, since the RAM is left out), copies the RAM's pages from
/// QEMU's descriptor into a sparse file beside the disk and ends QEMU: the particle then holds
/// no host memory. A wake copies the RAM back into a new tmpfs file, starts QEMU with the same
/// arguments on it and loads the device state, which costs a fraction of loading the RAM
/// through the migration stream. A guest started without a RAM file (by an older version)
/// takes the plain path: all of its memory goes through the stream.
///
/// The saved state is loaded at most once: it is deleted before the woken guest runs, because
/// from then on the disk moves away from the state the memory was saved with.
extension QEMUHypervisor {
    /// QEMU 7.2 caps migration at 32 MiB/s unless told otherwise; a paused guest's memory should
    /// go to the file as fast as the disk takes it.
    static let migrationBandwidth = 64 << 30

    public func guestTimers(particleID: String) async -> GuestTimers? {
        let particleFiles = files(particleID)
        return try? await onNewThread(name: "particle-timers") {
            try GuestAgent(path: particleFiles.agentSocket.path).timers()
        }
    }

    public func sleep(particleID: String) async throws -> GuestTimer? {
        let particleFiles = files(particleID)
        guard particleFiles.runningPID() != nil else {
            throw ControlError.invalidState("the particle's guest does not run")
        }
        let fields = ["particle": particleID]
        let started = ContinuousClock.now
        let nextTimer = try await onNewThread(name: "particle-sleep") { [self] in
            var nextTimer: GuestTimer?
            do {
                let agent = try GuestAgent(path: particleFiles.agentSocket.path)
                nextTimer = try agent.timers().next
                try agent.request("sync", [], timeout: .seconds(30))
            } catch {
                logger.warning("cannot ask the guest for its timers", fields.merging(["error": "\(error)"]) { a, _ in a })
            }
            try saveMemory(particleFiles)
            return nextTimer
        }
        do {
            try await waitForExit(particleFiles, deadline: .seconds(10))
        } catch {
            // The memory is saved; a QEMU that does not quit is killed.
            if let pid = particleFiles.runningPID() { kill(pid, SIGKILL) }
            try await waitForExit(particleFiles, deadline: .seconds(10))
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: particleFiles.memoryState.path))?[.size] as? Int ?? 0
        let ramBytes = SparseCopy.allocatedBytes(particleFiles.savedRAM.path)
        serialLog(for: particleID).append(Array("particle: asleep (memory saved)\r\n".utf8))
        logger.info(
            "guest asleep",
            fields.merging([
                "ms": "\((ContinuousClock.now - started).milliseconds)", "bytes": "\(bytes)", "ram_bytes": "\(ramBytes)",
            ]) { a, _ in a })
        return nextTimer
    }

    /// Pauses the guest, saves its device state into `memory.state` and its RAM into
    /// `memory.ram`, and quits QEMU. On failure the guest runs on and no saved file is left.
    private func saveMemory(_ particleFiles: ParticleFiles) throws {
        let partials = [particleFiles.memoryStatePartial, particleFiles.savedRAMPartial]
        for file in partials { try? FileManager.default.removeItem(at: file) }
        guard let pid = particleFiles.runningPID() else {
            throw ControlError.invalidState("the particle's guest does not run")
        }
        let ram = Self.openRAMFile(pid: pid, path: particleFiles.ramFile.path)
        defer { if let ram { close(ram) } }
        let monitor = try QMPClient(path: particleFiles.qmpSocket.path)
        try monitor.execute("stop")
        do {
            try monitor.execute(
                "migrate-set-capabilities",
                ["capabilities": [["capability": "x-ignore-shared", "state": ram != nil]]])
            try monitor.execute("migrate-set-parameters", ["max-bandwidth": Self.migrationBandwidth])
            try monitor.execute(
                "migrate", ["uri": "exec:cat > \(Self.shellQuoted(particleFiles.memoryStatePartial.path))"])
            try waitForMigration(monitor, deadline: .seconds(300))
            if let ram {
                try SparseCopy.copy(from: ram, to: particleFiles.savedRAMPartial)
                try Self.commit(particleFiles.savedRAMPartial, as: particleFiles.savedRAM)
            }
            try Self.commit(particleFiles.memoryStatePartial, as: particleFiles.memoryState)
            try Self.sync(particleFiles.directory)
        } catch {
            for file in partials + [particleFiles.savedRAM] { try? FileManager.default.removeItem(at: file) }
            _ = try? monitor.execute("cont")
            throw ControlError(.unavailable, "saving the guest's memory failed; it runs on", cause: "\(error)")
        }
        CrashPoint.reach(.sleepSaved)
        // QEMU may close the connection before it answers `quit`.
        _ = try? monitor.execute("quit")
    }

    /// Flushes `partial` and renames it to `final`, owner-only like every particle file.
    private static func commit(_ partial: URL, as final: URL) throws {
        chmod(partial.path, 0o600)
        try sync(partial)
        guard rename(partial.path, final.path) == 0 else {
            throw ControlError.internal(
                "renaming \(partial.lastPathComponent) failed", detail: String(cString: strerror(errno)))
        }
    }

    /// Opens the guest's unlinked RAM file through QEMU's descriptor for it, or returns nil for
    /// a QEMU that has none (its RAM is anonymous memory).
    static func openRAMFile(pid: Int32, path: String) -> Int32? {
        let folder = "/proc/\(pid)/fd"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        for name in names {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\(name)"),
                target == path || target == path + " (deleted)"
            else { continue }
            let fd = open("\(folder)/\(name)", O_RDONLY | O_CLOEXEC)
            if fd >= 0 { return fd }
        }
        return nil
    }

    /// Polls `query-migrate` until the outgoing migration completes; a failure throws.
    private func waitForMigration(_ monitor: QMPClient, deadline: Duration) throws {
        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end {
            let info = try monitor.execute("query-migrate") as? [String: Any]
            switch info?["status"] as? String {
            case "completed": return
            case "failed", "cancelled":
                throw QMPError("migration failed: \(info?["error-desc"] as? String ?? "no reason given")")
            default: usleep(2000)
            }
        }
        throw QMPError("migration did not finish within \(deadline)")
    }

    public func wake(_ spec: MachineSpec) async throws {
        let particleFiles = files(spec.particleID)
        guard particleFiles.hasMemoryState else {
            throw ControlError.invalidState("the particle has no saved memory to wake from")
        }
        let fields = ["particle": spec.particleID]
        let started = ContinuousClock.now
        let steps = try await onNewThread(name: "particle-wake") { [self] in
            let (monitor, savedRAM) = try restoreMemory(spec, files: particleFiles)
            CrashPoint.reach(.wakeLoaded)
            let loaded = ContinuousClock.now
            // From `cont` on the disk moves away from the saved memory: never load it again.
            try FileManager.default.removeItem(at: particleFiles.memoryState)
            try? FileManager.default.removeItem(at: particleFiles.savedRAM)
            try Self.sync(particleFiles.directory)
            try monitor.execute("cont")
            // The saved RAM's blocks are freed when its last descriptor closes, after the resume.
            if let savedRAM { Thread.detachNewThread { close(savedRAM) } }
            CrashPoint.reach(.wakeResumed)
            if FileManager.default.fileExists(atPath: particleFiles.identityPending.path) {
                // Another particle's memory (a duplicate): the guest must take this one's
                // identity before anything reaches it.
                try applyPendingIdentity(particleFiles)
            } else {
                // The clock and entropy requests go out at once, but their round trips through
                // the just-resumed guest stay off the wake's path: the first request is waiting.
                Thread.detachNewThread { [self] in refreshGuest(particleFiles, fields: fields) }
            }
            return [
                "load_ms": "\((loaded - started).milliseconds)",
                "resume_ms": "\((ContinuousClock.now - loaded).milliseconds)",
            ]
        }
        serialLog(for: spec.particleID).append(Array("particle: awake\r\n".utf8))
        logger.info(
            "guest awake",
            fields.merging(steps) { a, _ in a }.merging(["ms": "\((ContinuousClock.now - started).milliseconds)"]) { a, _ in a })
    }

    /// Starts QEMU with the arguments of the guest's last launch and loads the saved state into
    /// it; returns the monitor of the loaded, still paused guest and the descriptor of the saved
    /// RAM file, if any, for the caller to close. On failure QEMU is killed and the saved state
    /// kept.
    private func restoreMemory(
        _ spec: MachineSpec, files particleFiles: ParticleFiles
    ) throws -> (QMPClient, savedRAM: Int32?) {
        let argv: [String]
        do {
            let data = try Data(contentsOf: particleFiles.launchArguments)
            guard let words = try JSONSerialization.jsonObject(with: data) as? [String] else {
                throw QMPError("qemu.argv is not a JSON array of strings")
            }
            argv = words
        } catch {
            throw ControlError(.internal, "the particle's saved QEMU arguments are unreadable", cause: "\(error)")
        }
        if !configuration.namespace.hasTap(spec.tapName) {
            try configuration.namespace.addTap(
                spec.tapName, address: spec.address, mac: Self.macAddress(for: spec.address))
        }
        let separateRAM = FileManager.default.fileExists(atPath: particleFiles.savedRAM.path)
        let copying = ContinuousClock.now
        // The RAM file is made at its full size first; its data is written while QEMU starts and
        // maps it (QEMU does not touch guest RAM while it waits for incoming state).
        let copy = Locked<(done: Bool, error: (any Error)?)>((false, nil))
        var savedRAM: Int32?
        if separateRAM {
            try FileManager.default.createDirectory(
                at: configuration.memoryDirectory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            let source = open(particleFiles.savedRAM.path, O_RDONLY | O_CLOEXEC)
            guard source >= 0 else {
                throw ControlError.internal("opening the saved RAM failed", detail: String(cString: strerror(errno)))
            }
            let target: Int32
            do {
                target = try SparseCopy.create(particleFiles.ramFile, sizedLike: source)
            } catch {
                close(source)
                throw error
            }
            savedRAM = source
            let name = particleFiles.ramFile.lastPathComponent
            Thread.detachNewThread {
                defer { close(target) }
                do {
                    try SparseCopy.fill(target, from: source, name: name)
                    copy.withLock { $0.done = true }
                } catch {
                    copy.withLock { $0 = (true, error) }
                }
            }
        } else {
            copy.withLock { $0.done = true }
        }
        let launched = ContinuousClock.now
        // The RAM file goes where this process keeps them now (`memory_dir` may have changed).
        let currentArgv = argv.map { word in
            word.hasPrefix("memory-backend-file,") ? Self.replacingMemoryPath(in: word, with: particleFiles.ramFile.path) : word
        }
        let monitor: QMPClient
        do {
            monitor = try startQEMU(
                currentArgv + ["-incoming", "defer"], tap: spec.tapName, particleID: spec.particleID,
                files: particleFiles)
        } catch {
            while !copy.withLock({ $0.done }) { usleep(500) }
            if let savedRAM { close(savedRAM) }
            throw error
        }
        let started = ContinuousClock.now
        while !copy.withLock({ $0.done }) { usleep(500) }
        if let error = copy.withLock({ $0.error }) {
            if let pid = particleFiles.runningPID() { kill(pid, SIGKILL) }
            if let savedRAM { close(savedRAM) }
            throw error
        }
        logger.debug(
            "QEMU started for a wake",
            [
                "particle": spec.particleID, "start_ms": "\((started - launched).milliseconds)",
                "copy_ms": "\((ContinuousClock.now - copying).milliseconds)",
            ])
        do {
            try monitor.execute(
                "migrate-set-capabilities",
                ["capabilities": [["capability": "x-ignore-shared", "state": separateRAM]]])
            try monitor.execute(
                "migrate-incoming", ["uri": "exec:cat \(Self.shellQuoted(particleFiles.memoryState.path))"])
            try waitForIncoming(monitor, deadline: .seconds(300))
            return (monitor, savedRAM)
        } catch {
            if let pid = particleFiles.runningPID() { kill(pid, SIGKILL) }
            if let savedRAM { close(savedRAM) }
            let output = (try? String(contentsOf: particleFiles.directory.appendingPathComponent("qemu.log"), encoding: .utf8)) ?? ""
            throw ControlError(
                .unavailable,
                "restoring the guest's memory failed; the saved memory is kept. `stop` discards it"
                    + " and `start` then boots from the disk",
                cause: "\(error) \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// Polls `query-migrate` on the incoming side until the state is loaded. A failed load makes
    /// QEMU exit, which closes the monitor and throws.
    func waitForIncoming(_ monitor: QMPClient, deadline: Duration) throws {
        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end {
            let info = try monitor.execute("query-migrate") as? [String: Any]
            switch info?["status"] as? String {
            case "completed": return
            case "failed", "cancelled": throw QMPError("loading the saved memory failed")
            default: usleep(1000)
            }
        }
        throw QMPError("loading the saved memory did not finish within \(deadline)")
    }

    /// Gives a guest resumed from saved memory the current time and fresh entropy through its
    /// agent. A guest without an agent (an image from before it) only gets a warning logged.
    func refreshGuest(_ particleFiles: ParticleFiles, fields: [String: String]) {
        let started = ContinuousClock.now
        do {
            let agent = try GuestAgent(path: particleFiles.agentSocket.path)
            try agent.setClock()
            try agent.refreshEntropy()
            logger.debug("guest clock and entropy refreshed", fields.merging(["ms": "\((ContinuousClock.now - started).milliseconds)"]) { a, _ in a })
        } catch {
            logger.warning(
                "guest agent did not take the clock and entropy",
                fields.merging(["error": "\(error)"]) { a, _ in a })
        }
    }

    public func discardMemory(particleID: String) async throws {
        let particleFiles = files(particleID)
        try await powerOff(particleID, tap: Particle.tapName(id: particleID))
        for file in [
            particleFiles.memoryState, particleFiles.memoryStatePartial, particleFiles.savedRAM,
            particleFiles.savedRAMPartial, particleFiles.ramFile,
        ] {
            try? FileManager.default.removeItem(at: file)
        }
        serialLog(for: particleID).append(Array("particle: saved memory discarded\r\n".utf8))
    }

    public func hasSavedMemory(particleID: String) async -> Bool {
        files(particleID).hasMemoryState
    }

    public func recover(particleID: String) async -> GuestState {
        let particleFiles = files(particleID)
        let fields = ["particle": particleID]
        let state: GuestState = await (try? onNewThread(name: "particle-recover") { [self] () -> GuestState in
            // A RAM file still on tmpfs is left from a wake cut short before QEMU mapped it.
            try? FileManager.default.removeItem(at: particleFiles.ramFile)
            guard particleFiles.runningPID() != nil else {
                try? FileManager.default.removeItem(at: particleFiles.memoryStatePartial)
                try? FileManager.default.removeItem(at: particleFiles.savedRAMPartial)
                if !particleFiles.hasMemoryState {
                    try? FileManager.default.removeItem(at: particleFiles.savedRAM)
                }
                return particleFiles.hasMemoryState ? .sleeping : .off
            }
            let monitor: QMPClient
            let status: String
            do {
                monitor = try QMPClient(path: particleFiles.qmpSocket.path)
                status = (try monitor.execute("query-status") as? [String: Any])?["status"] as? String ?? ""
            } catch {
                logger.warning("cannot ask a running QEMU for its state", fields.merging(["error": "\(error)"]) { a, _ in a })
                return .running
            }
            if status == "running" {
                guard finishPendingIdentity(particleFiles, fields: fields) else { return .off }
                if particleFiles.hasMemoryState {
                    logger.warning("removing saved memory of a guest that runs", fields)
                    try? FileManager.default.removeItem(at: particleFiles.memoryState)
                }
                return .running
            }
            if status == "inmigrate" || particleFiles.hasMemoryState {
                // A wake that had not resumed the guest, or a sleep that had saved everything: the
                // file is whole and the guest has not run since, so the file wins.
                logger.notice("ending a QEMU left from a cut-short sleep or wake", fields.merging(["qemu": status]) { a, _ in a })
                if let pid = particleFiles.runningPID() { kill(pid, SIGKILL) }
                return particleFiles.hasMemoryState ? .sleeping : .off
            }
            // Paused with no saved memory (a sleep or snapshot cut short, or a wake between
            // deleting the file and `cont`): the guest's memory exists only in QEMU, so it resumes.
            if let migration = try? monitor.execute("query-migrate") as? [String: Any],
                ["setup", "active", "pre-switchover", "device"].contains(migration["status"] as? String ?? "")
            {
                _ = try? monitor.execute("migrate_cancel")
                for _ in 0..<500 {
                    let current = (try? monitor.execute("query-migrate") as? [String: Any])?["status"] as? String
                    if current != "cancelling" && current != "active" { break }
                    usleep(10_000)
                }
            }
            for file in [particleFiles.memoryStatePartial, particleFiles.savedRAMPartial, particleFiles.savedRAM] {
                try? FileManager.default.removeItem(at: file)
            }
            do {
                try monitor.execute("cont")
                logger.notice("resumed a guest left paused", fields.merging(["qemu": status]) { a, _ in a })
            } catch {
                logger.warning("cannot resume a paused guest", fields.merging(["error": "\(error)"]) { a, _ in a })
            }
            return finishPendingIdentity(particleFiles, fields: fields) ? .running : .off
        }) ?? .running
        if state == .off || state == .sleeping {
            try? await waitForExit(particleFiles, deadline: .seconds(10))
        }
        return state
    }

    /// Applies the identity that a guest resumed from another guest's memory (a template or a
    /// duplicate's source) was cut short before, if its marker is there. Returns false when the
    /// agent does not take it twice in a row, after ending the guest's QEMU. A guest without
    /// its identity keeps the other guest's address, so a wait for its sshd would last the
    /// whole boot timeout.
    private func finishPendingIdentity(_ particleFiles: ParticleFiles, fields: [String: String]) -> Bool {
        guard FileManager.default.fileExists(atPath: particleFiles.identityPending.path) else { return true }
        for attempt in 1...2 {
            do {
                // The agent may still be busy with the request that the crash cut short.
                try applyPendingIdentity(particleFiles)
                logger.notice("applied the identity of a resumed guest", fields)
                return true
            } catch {
                logger.warning(
                    "cannot apply the identity of a resumed guest",
                    fields.merging(["error": "\(error)", "attempt": "\(attempt)"]) { a, _ in a })
            }
        }
        if let pid = particleFiles.runningPID() { kill(pid, SIGKILL) }
        logger.warning("ended a resumed guest that did not take its identity", fields)
        return false
    }

    /// Replaces the `mem-path=` value of a `memory-backend-file` option with `path`.
    static func replacingMemoryPath(in option: String, with path: String) -> String {
        option.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("mem-path=") ? "mem-path=\(escapeOption(path))" : String($0) }
            .joined(separator: ",")
    }

    /// Doubles commas for QEMU's option syntax.
    static func escapeOption(_ value: String) -> String { value.replacingOccurrences(of: ",", with: ",,") }

    /// Quotes `text` for `/bin/sh`, which runs QEMU's `exec:` migration commands.
    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Flushes a file or folder to the disk.
    static func sync(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ControlError.internal("opening \(url.lastPathComponent) failed", detail: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        guard fsync(fd) == 0 else {
            throw ControlError.internal("flushing \(url.lastPathComponent) failed", detail: String(cString: strerror(errno)))
        }
    }
}
