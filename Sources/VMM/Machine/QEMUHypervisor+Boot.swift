import Control
import Foundation
import Support

extension QEMUHypervisor {
    /// Starts QEMU for the particle and waits until the guest's sshd sends its banner.
    ///
    /// QEMU starts paused (`-S`) so that the serial console reader is connected before the
    /// guest prints anything; `cont` then runs it. On any failure QEMU is killed and the serial
    /// log stays for `logs`.
    func boot(_ spec: MachineSpec, image: BuiltImage) async throws {
        let particleFiles = files(spec.particleID)
        let fields = ["particle": spec.particleID, "accelerator": configuration.accelerator.rawValue]
        let started = ContinuousClock.now
        try await onNewThread(name: "particle-boot") { [self] in
            _ = try launch(spec, image: image, files: particleFiles).execute("cont")
        }
        do {
            try await waitForSSH(spec, files: particleFiles)
        } catch {
            logger.warning("guest boot failed", fields.merging(["error": "\(error)"]) { a, _ in a })
            try? await powerOff(spec.particleID, tap: spec.tapName)
            throw error
        }
        let elapsed = ContinuousClock.now - started
        logger.info("guest booted", fields.merging(["ms": "\(elapsed.milliseconds)"]) { a, _ in a })
    }

    /// Starts QEMU paused for a cold boot and returns its monitor; `cont` runs the guest.
    private func launch(_ spec: MachineSpec, image: BuiltImage, files: ParticleFiles) throws -> QMPClient {
        let accelerator = configuration.accelerator
        let arguments = QEMUArguments(
            accelerator: accelerator, memoryMiB: Int(spec.memoryBytes >> 20), cpus: spec.vcpus,
            kernel: image.kernel, initramfs: image.initramfs, rootDisk: files.disk,
            configDrive: files.configDrive, tap: spec.tapName,
            macAddress: Self.macAddress(for: spec.address),
            serial: .socket(path: files.serialSocket.path), qmpSocketPath: files.qmpSocket.path,
            pidFile: files.pidFile.path,
            tscKilohertz: accelerator == .tcg ? Accelerator.hostTSCKilohertz() : nil,
            memoryFile: files.ramFile.path, agentSocketPath: files.agentSocket.path)
        let argv = arguments.arguments() + ["-S", "-daemonize"]
        try JSONSerialization.data(withJSONObject: argv).write(to: files.launchArguments, options: .atomic)
        // A cold boot starts from empty RAM, never from a file a cut-short wake left behind.
        try? FileManager.default.removeItem(at: files.ramFile)
        try configuration.namespace.addTap(
            spec.tapName, address: spec.address, mac: Self.macAddress(for: spec.address))
        return try startQEMU(argv, tap: spec.tapName, particleID: spec.particleID, files: files)
    }

    /// Runs QEMU with `argv` in the namespace, connects the serial console reader and returns
    /// the monitor. The tap must exist; it is removed again if QEMU fails to start. A RAM file
    /// that `argv` names is unlinked once QEMU has mapped it.
    func startQEMU(_ argv: [String], tap: String, particleID: String, files: ParticleFiles) throws
        -> QMPClient
    {
        if let pid = files.runningPID() {
            throw ControlError.conflict("the particle's QEMU (pid \(pid)) is already running")
        }
        for stale in [files.qmpSocket, files.serialSocket, files.agentSocket, files.pidFile] {
            try? FileManager.default.removeItem(at: stale)
        }
        let qemuLog = files.directory.appendingPathComponent("qemu.log")
        try? FileManager.default.removeItem(at: qemuLog)
        try FileManager.default.createDirectory(
            at: configuration.memoryDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let status = try Command.runLogged(
            "ip", ["netns", "exec", configuration.namespace.name, configuration.qemuBinary] + argv,
            logPath: qemuLog.path)
        // QEMU has mapped its RAM file by the time `-daemonize` returns: the mapping keeps the
        // memory, and nothing is left to clean up however QEMU ends.
        try? FileManager.default.removeItem(at: files.ramFile)
        guard status == 0 else {
            try? configuration.namespace.removeTap(tap)
            let output = (try? String(contentsOf: qemuLog, encoding: .utf8)) ?? ""
            throw ControlError(
                .internal, "QEMU failed to start",
                cause: "exit status \(status): \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        if let pid = files.runningPID() { exits.watch(pid, key: particleID) }
        CrashPoint.reach(.bootLaunched)

        let log = serialLog(for: particleID)
        log.append(Array("particle: QEMU started (\(configuration.accelerator.rawValue))\r\n".utf8))
        try SerialConsoleReader.start(socketPath: files.serialSocket.path, log: log)
        return try QMPClient(path: files.qmpSocket.path)
    }

    /// Polls the guest's port 22 until it sends an SSH banner, QEMU exits, or the boot timeout.
    public func waitUntilBooted(_ spec: MachineSpec) async throws {
        try await waitForSSH(spec, files: files(spec.particleID))
    }

    private func waitForSSH(_ spec: MachineSpec, files: ParticleFiles) async throws {
        let deadline = ContinuousClock.now + configuration.bootTimeout
        while ContinuousClock.now < deadline {
            guard files.runningPID() != nil else {
                throw ControlError.unavailable("the guest powered off during boot")
            }
            if await sshBanner(address: spec.address) { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw ControlError.unavailable(
            "the guest's sshd did not accept connections within \(configuration.bootTimeout.components.seconds) s")
    }

    private func sshBanner(address: String) async -> Bool {
        guard let fd = try? await sockets.connect(address: address, port: 22, timeout: .seconds(1))
        else { return false }
        defer { close(fd) }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 2000) == 1 else { return false }
        var banner = [UInt8](repeating: 0, count: 4)
        return recv(fd, &banner, 4, 0) == 4 && banner == Array("SSH-".utf8)
    }

    /// Kills the particle's QEMU at once, removes its tap and ends its `exec` connections.
    func powerOff(_ particleID: String, tap: String) async throws {
        let particleFiles = files(particleID)
        if let pid = particleFiles.runningPID() {
            kill(pid, SIGKILL)
            try await waitForExit(particleFiles, deadline: .seconds(10))
        }
        try? configuration.namespace.removeTap(tap)
        endCommands(particleID)
    }

    func waitForExit(_ files: ParticleFiles, deadline: Duration) async throws {
        let end = ContinuousClock.now + deadline
        while files.runningPID() != nil {
            guard ContinuousClock.now < end else {
                throw ControlError.unavailable("QEMU did not exit within \(deadline)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Derives a locally administered MAC address from the guest's IPv4 address.
    static func macAddress(for address: String) -> String {
        let value = AddressPool.parse(address) ?? 0
        let bytes = [0x52, 0x54, Int(value >> 24), Int(value >> 16 & 0xff), Int(value >> 8 & 0xff), Int(value & 0xff)]
        return bytes.map { String(format: "%02x", $0) }.joined(separator: ":")
    }
}

