import Foundation
import Support
import Testing

/// The gateway's limits, set low in particled's configuration file, against the OpenSSH
/// client: each refusal is readable and has the documented exit status.
@Suite(.serialized) struct GatewayLimitTests {
    @Test func limitsFromConfiguration() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        let config = harness.directory.appendingPathComponent("config.json")
        try jsonText([
            "ssh_commands_per_minute": 3, "ssh_sessions_per_key": 1,
            "ssh_key_exchange_timeout_seconds": 1,
        ]).write(to: config, atomically: true, encoding: .utf8)
        try harness.start(extraArguments: ["--config", config.path])

        // Commands per key: three at once, then a wait.
        for _ in 0..<3 {
            #expect(try harness.ssh("whoami").status == 0)
        }
        let limited = try harness.ssh("whoami")
        #expect(limited.status == 7)
        #expect(limited.output == "")
        #expect(
            limited.errorOutput.hasPrefix(
                "error: too many commands for this key: the limit is 3 per minute; try again in"),
            "stderr: \(limited.errorOutput)")

        // Sessions per key, with a second key whose command budget is untouched. The prompt
        // of `ssh -t` keeps one session open.
        let otherKey = harness.directory.appendingPathComponent("other").path
        try Command.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey])
        let holder = try SpawnedProcess(
            [try Command.resolve("ssh"), "-tt"] + harness.sshArguments(key: otherKey))
        defer { holder.stop() }
        let banner = holder.read(until: "particle> ", timeout: 30)
        #expect(banner.contains("Particle gateway"), "prompt: \(banner)")

        let second = try harness.ssh("whoami", key: otherKey)
        #expect(second.status == 7)
        #expect(
            second.errorOutput.contains("error: too many concurrent sessions for key SHA256:"),
            "stderr: \(second.errorOutput)")
        #expect(second.errorOutput.contains("the limit is 1; close one and retry"))
        let tunnel = try Command.runAllowingFailure(
            "ssh", harness.sshArguments(key: otherKey, options: ["-W", "web:22"]), input: Data())
        #expect(tunnel.status == 255)
        #expect(harness.log.contains("reason=\"too many concurrent sessions for key"))

        holder.stop()
        let deadline = Date().addingTimeInterval(10)
        var third = try harness.ssh("whoami", key: otherKey)
        while third.status == 7 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
            third = try harness.ssh("whoami", key: otherKey)
        }
        #expect(third.status == 0, "the session slot was not freed: \(third.errorOutput)")

        // Key exchange deadline: a client that sends nothing is closed after about 1 s.
        let started = Date()
        let received = try receiveUntilClosed(port: harness.sshPort, limit: 10)
        let elapsed = Date().timeIntervalSince(started)
        #expect(received.hasPrefix("SSH-2.0-"))
        #expect(elapsed > 0.9, "closed after \(elapsed) s")
        #expect(elapsed < 5, "closed after \(elapsed) s")
        #expect(harness.log.contains("msg=\"key exchange timed out\""))
    }

    @Test func invalidLimitRejectedAtStart() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        let config = harness.directory.appendingPathComponent("config.json")
        try jsonText(["ssh_sessions_per_key": 0]).write(to: config, atomically: true, encoding: .utf8)
        let result = try Command.runAllowingFailure(
            ParticledHarness.particledPath,
            ["run", "--config", config.path, "--state-dir", harness.stateDirectory.path])
        #expect(result.status != 0)
        #expect(
            (result.output + result.errorOutput).contains(
                "invalid ssh_sessions_per_key 0; use 1 or more"))
    }

    /// Connects to 127.0.0.1:`port`, sends nothing, and returns what arrives before the server
    /// closes the connection (or `limit` seconds pass).
    private func receiveUntilClosed(port: Int, limit: Int) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw HarnessError("connect to port \(port) failed") }
        var timeout = timeval(tv_sec: limit, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            received += buffer.prefix(count)
        }
        return String(decoding: received, as: UTF8.self)
    }
}
