import Foundation
import Support
import Testing

/// End-to-end: `ssh -J`, `ssh -W`, `ssh -L` and `NAME@host` through the gateway into a real
/// guest, with the OpenSSH client, and the targets the gateway must reject. One guest serves
/// every check, because a boot takes 15-30 s here.
@Suite(.serialized) struct JumpTests {
    @Test func jumpIntoOwnParticle() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        try harness.start()
        let create = try harness.ssh("create", "web")
        try #require(
            create.status == 0, "create failed: \(create.errorOutput)\n\(harness.log.suffix(3000))")
        let config = try writeClientConfig(harness, key: harness.keyPath, name: "ssh_config")
        let jump = "root@127.0.0.1:\(harness.sshPort)"

        let viaJump = try Command.runAllowingFailure(
            "ssh", ["-F", config, "-J", jump, "root@web", "hostname"])
        #expect(
            viaJump.status == 0,
            "ssh -J failed: \(viaJump.errorOutput)\n\(harness.log.suffix(3000))")
        #expect(viaJump.output == "web\n")

        let proxyCommand = "ssh -F \(config) -p \(harness.sshPort) -W %h:%p root@127.0.0.1"
        let viaProxyCommand = try Command.runAllowingFailure(
            "ssh", ["-F", config, "-o", "ProxyCommand=\(proxyCommand)", "root@web", "hostname"])
        #expect(viaProxyCommand.status == 0, "ssh -W failed: \(viaProxyCommand.errorOutput)")
        #expect(viaProxyCommand.output == "web\n")

        try checkCopyRoundTrip(harness, config: config, jump: jump)
        try checkActivityWhileOpen(harness, config: config)
        try checkRejectedTargets(harness, config: config)
        try checkParticleCommands(harness)
        try checkParticleTerminal(harness)
        try checkFileTransfers(harness, config: config, jump: jump)
        try checkLocalForward(harness)
        try checkFollowLogs(harness)
        try checkStoppedParticle(harness, config: config)
    }

    /// Copies a file into the guest and back with scp through the jump host.
    private func checkCopyRoundTrip(_ harness: ParticledHarness, config: String, jump: String)
        throws
    {
        let original = harness.directory.appendingPathComponent("upload.bin")
        let copy = harness.directory.appendingPathComponent("download.bin")
        let content = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 / 7) })
        try content.write(to: original)

        let upload = try Command.runAllowingFailure(
            "scp", ["-F", config, "-J", jump, original.path, "root@web:/root/upload.bin"])
        #expect(upload.status == 0, "scp upload failed: \(upload.errorOutput)")
        let download = try Command.runAllowingFailure(
            "scp", ["-F", config, "-J", jump, "root@web:/root/upload.bin", copy.path])
        #expect(download.status == 0, "scp download failed: \(download.errorOutput)")
        #expect(try Data(contentsOf: copy) == content)
    }

    /// Holds a raw `ssh -W web:22` open: the guest's SSH banner comes through, the tunnel
    /// counts as a network peer, and closing standard input ends it.
    private func checkActivityWhileOpen(_ harness: ParticledHarness, config: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh")
        process.arguments = [
            "-F", config, "-p", String(harness.sshPort), "-W", "web:22", "root@127.0.0.1",
        ]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let banner = readLine(output.fileHandleForReading.fileDescriptor, timeout: 60)
        #expect(banner.hasPrefix("SSH-2.0-OpenSSH"), "banner through the tunnel: \(banner)")
        #expect(try networkPeers(harness) == 1)

        try input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!process.isRunning, "ssh -W did not exit after its input closed")
        while try networkPeers(harness) != 0 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(try networkPeers(harness) == 0)
        #expect(harness.log.contains("msg=\"tunnel closed\""))
    }

    private func checkRejectedTargets(_ harness: ParticledHarness, config: String) throws {
        let guestAddress =
            try harness.ssh("exec", "web", "--", "hostname -I").output
            .split(separator: " ").first.map(String.init) ?? ""
        #expect(!guestAddress.isEmpty)
        let targets = [
            "127.0.0.1:22", "localhost:\(harness.sshPort)", "10.0.0.1:22", "\(guestAddress):22",
            "nosuch:22",
        ]
        for target in targets {
            let result = try forward(harness, config: config, key: harness.keyPath, target: target)
            #expect(result.status != 0, "-W \(target) was not rejected: \(result.output)")
            #expect(
                result.errorOutput.contains("stdio forwarding failed"),
                "-W \(target): \(result.errorOutput)")
            #expect(
                rejectionLogged(harness, target: target), "no rejection of \(target) in the log")
        }

        let otherKey = harness.directory.appendingPathComponent("other").path
        try Command.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey])
        let otherConfig = try writeClientConfig(harness, key: otherKey, name: "other_config")
        let other = try forward(harness, config: otherConfig, key: otherKey, target: "web:22")
        #expect(other.status != 0, "another account reached 'web': \(other.output)")
        #expect(
            other.errorOutput.contains("stdio forwarding failed"),
            "other account: \(other.errorOutput)")
        #expect(harness.log.contains("particle 'web' not found"))
    }

    /// Stops the particle through a client that hangs up while the guest shuts down: the stop
    /// still completes. Under idle policy `none`, forwards and shells to the stopped particle
    /// are then refused, naming `start` (under `sleep`, use starts it; IdleTests covers that).
    private func checkStoppedParticle(_ harness: ParticledHarness, config: String) throws {
        #expect(try harness.ssh("idle", "web", "none").status == 0)
        let stopper = try SpawnedProcess(
            [try Command.resolve("ssh")] + harness.sshArguments() + ["stop", "web"])
        Thread.sleep(forTimeInterval: 1)
        #expect(!stopper.hasExited, "stop returned within 1 s; the hang-up test needs longer")
        stopper.stop()
        let deadline = Date().addingTimeInterval(60)
        var status = ""
        while status != "stopped" && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            status = (try? jsonObject(harness.ssh("show", "web", "--json").output))?["status"]
                as? String ?? ""
        }
        #expect(status == "stopped", "the stop did not complete after the client hung up")
        #expect(
            harness.log.split(separator: "\n").contains {
                $0.contains("msg=\"request finished\"") && $0.contains("request=stop")
                    && $0.contains("hangup=true")
            }, "no hang-up logged for stop")

        let result = try forward(harness, config: config, key: harness.keyPath, target: "web:22")
        #expect(result.status != 0)
        #expect(harness.log.contains("particle 'web' is stopped; run `start web` first"))
        let shell = try harness.ssh("true", user: "web")
        #expect(shell.status == 4)
        #expect(shell.errorOutput == "error: particle 'web' is stopped; run `start web` first\n")
    }

    private func rejectionLogged(_ harness: ParticledHarness, target: String) -> Bool {
        harness.log.split(separator: "\n").contains {
            $0.contains("msg=\"direct-tcpip channel rejected\"")
                && $0.contains("destination=\(target) ")
        }
    }

    /// Runs `ssh -W TARGET` against the gateway with nothing on standard input.
    private func forward(
        _ harness: ParticledHarness, config: String, key: String, target: String
    ) throws -> CommandResult {
        try Command.runAllowingFailure(
            "ssh", ["-F", config, "-p", String(harness.sshPort), "-W", target, "root@127.0.0.1"],
            input: Data())
    }

    /// Writes an ssh_config for both hops: any host key is trusted and only `key` is offered.
    func writeClientConfig(_ harness: ParticledHarness, key: String, name: String) throws
        -> String
    {
        let path = harness.directory.appendingPathComponent(name).path
        let text = """
            Host *
                StrictHostKeyChecking no
                UserKnownHostsFile /dev/null
                IdentityFile \(key)
                IdentitiesOnly yes
                BatchMode yes
                LogLevel ERROR
                ConnectTimeout 60

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func networkPeers(_ harness: ParticledHarness) throws -> Int {
        let status = try jsonObject(try harness.ssh("status", "web", "--json").output)
        return status["network_peers"] as? Int ?? -1
    }

    /// Reads up to the first newline from `fd`, waiting at most `timeout` seconds in total.
    private func readLine(_ fd: Int32, timeout: Double) -> String {
        var bytes: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var byte: UInt8 = 0
        while !bytes.contains(UInt8(ascii: "\n")) {
            let remaining = Int32(deadline.timeIntervalSinceNow * 1000)
            guard remaining > 0 else { break }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, remaining) == 1, read(fd, &byte, 1) == 1 else { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
