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
        try SerialConsoleReader.start(
            socketPath: particleFiles.serialSocket.path, log: serialLog(for: particleID))
    }
}
