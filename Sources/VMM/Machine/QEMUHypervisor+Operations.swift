import Control
import Foundation
import Support

extension QEMUHypervisor {
    public func stop(particleID: String, deadline: Duration) async throws {
        let particleFiles = files(particleID)
        guard particleFiles.runningPID() != nil else { return }
        let fields = ["particle": particleID]
        do {
            try await onNewThread(name: "particle-stop") {
                let monitor = try QMPClient(path: particleFiles.qmpSocket.path)
                try monitor.execute("system_powerdown")
                CrashPoint.reach(.stopPowerdownSent)
            }
            try await waitForExit(particleFiles, deadline: deadline)
            logger.info("guest shut down", fields)
        } catch {
            logger.warning(
                "guest did not shut down cleanly; powering it off",
                fields.merging(["error": "\(error)"]) { a, _ in a })
        }
        try await powerOff(particleID, tap: Particle.tapName(id: particleID))
    }

    public func destroy(particleID: String) async throws {
        try await powerOff(particleID, tap: Particle.tapName(id: particleID))
        let directory = files(particleID).directory
        serialLogs.withLock { $0[particleID] = nil }
        if FileManager.default.fileExists(atPath: directory.path) {
            try FileManager.default.removeItem(at: directory)
        }
    }

    public func stats(particleID: String) async -> MachineStats? {
        let particleFiles = files(particleID)
        guard particleFiles.runningPID() != nil else { return nil }
        return try? await onNewThread(name: "particle-stats") {
            let monitor = try QMPClient(path: particleFiles.qmpSocket.path)
            let status = try monitor.execute("query-status") as? [String: Any]
            let cpus = try monitor.execute("query-cpus-fast") as? [Any]
            let memory = try monitor.execute("query-memory-size-summary") as? [String: Any]
            let blocks = try monitor.execute("query-block") as? [[String: Any]]
            let root = blocks?.first { ($0["device"] as? String) == "" || ($0["qdev"] as? String)?.contains("root") == true } ?? blocks?.first
            let disk = ((root?["inserted"] as? [String: Any])?["image"] as? [String: Any])?["virtual-size"]
            let state = (status?["status"] as? String) ?? "unknown"
            let uptime = particleFiles.startedAt().map { Int(Date().timeIntervalSince($0)) } ?? 0
            return MachineStats(
                vcpus: cpus?.count ?? 0,
                memoryTotalBytes: (memory?["base-memory"] as? NSNumber)?.uint64Value ?? 0,
                diskTotalBytes: (disk as? NSNumber)?.uint64Value ?? 0,
                uptimeSeconds: uptime, vmState: state.prefix(1).uppercased() + state.dropFirst())
        }
    }

    public func exec(
        _ spec: MachineSpec, command: String, onOutput: (@Sendable ([UInt8]) -> Void)?
    ) async throws -> ExecResult {
        let hostKey = try String(contentsOf: files(spec.particleID).hostKeyPublic, encoding: .utf8)
        let fd = try await sockets.connect(address: spec.address, port: 22)
        // A guest that dies sends nothing more, and the command would wait for its output
        // forever: `endCommands` shuts this duplicate down, which ends the SSH session.
        let handle = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        if handle >= 0 { execSockets.withLock { _ = $0[spec.particleID, default: []].insert(handle) } }
        defer {
            if handle >= 0 {
                execSockets.withLock { _ = $0[spec.particleID]?.remove(handle) }
                close(handle)
            }
        }
        let privateKey = platformKey.privateKey
        let result = try await onNewThread(name: "particle-exec") {
            do {
                return try GuestSSH.exec(
                    fd: fd, user: "root", privateKey: privateKey, expectedHostKey: hostKey,
                    command: command, timeout: .seconds(30),
                    onOutput: { bytes, _ in onOutput?(bytes) })
            } catch let error as GuestSSHError {
                throw ControlError.unavailable(error.description)
            }
        }
        return ExecResult(exitCode: result.exitCode, output: result.output)
    }
}

extension QEMUHypervisor {
    public func adopt(particleID: String) async throws {
        let particleFiles = files(particleID)
        if let pid = particleFiles.runningPID() { exits.watch(pid, key: particleID) }
        try SerialConsoleReader.start(
            socketPath: particleFiles.serialSocket.path, log: serialLog(for: particleID))
    }

    /// Shuts down the connections of the particle's running `exec` commands, which then fail.
    func endCommands(_ particleID: String) {
        execSockets.withLock { sockets in
            for fd in sockets[particleID] ?? [] { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    public func requireMemoryRoom(memoryBytes: UInt64) async throws {
        // The check may wait up to 2 s for a quitting QEMU's pages, so it runs off the task pool.
        let path = configuration.memoryDirectory.path
        try await onNewThread(name: "particle-room") {
            try MemoryDirectory.requireRoom(path, memoryBytes: memoryBytes)
        }
    }

    public func cleanUpEndedGuest(particleID: String) async -> MachineExit {
        let particleFiles = files(particleID)
        try? configuration.namespace.removeTap(Particle.tapName(id: particleID))
        endCommands(particleID)
        let status = exits.takeExit(key: particleID)?.description
        let qemuLog = (try? String(contentsOf: particleFiles.directory.appendingPathComponent("qemu.log"), encoding: .utf8)) ?? ""
        let console = serialLog(for: particleID)
        let consoleTail = String(decoding: console.tail(2048), as: UTF8.self)
        console.append(Array("particle: QEMU ended (\(status ?? "exit status unknown"))\r\n".utf8))
        return MachineExit(
            status: status, qemuOutput: Self.lastLines(qemuLog, count: 3),
            consoleTail: Self.lastLines(consoleTail, count: 3))
    }

    /// Returns the last `count` non-empty lines of `text`, joined by " | ", without terminal
    /// escape sequences and other control characters (a guest console prints both).
    static func lastLines(_ text: String, count: Int) -> String {
        let unescaped = text.replacingOccurrences(of: "\u{1b}\\[[0-9;?]*[A-Za-z]", with: "", options: .regularExpression)
        let printable = String(
            String.UnicodeScalarView(unescaped.unicodeScalars.filter { $0 == "\n" || $0.properties.generalCategory != .control }))
        return printable.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.suffix(count).joined(separator: " | ")
    }
}
