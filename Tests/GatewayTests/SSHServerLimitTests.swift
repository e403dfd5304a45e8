import CLibSSH
import Foundation
import Support
import Testing

@testable import Gateway

/// Limits and rejected requests, checked with OpenSSH's `ssh` and a libssh client.
@Suite struct SSHServerLimitTests {
    @Test func sessionsPerKeyLimited() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory) { $0.maxSessionsPerKey = 1 }
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        // The first session stays open, authenticated with the same key, through libssh.
        let holder = try LibSSHClient(port: server.port)
        var privateKey: ssh_key?
        #expect(ssh_pki_import_privkey_file(key.path, nil, nil, nil, &privateKey) == SSH_OK)
        defer { ssh_key_free(privateKey) }
        try #require(
            ssh_userauth_publickey(holder.session, nil, privateKey) == SSH_AUTH_SUCCESS.rawValue)

        let second = try server.ssh("echo second", key: key)
        #expect(second.status == 7)
        #expect(second.output == "")
        #expect(
            second.errorOutput.contains(
                "error: too many concurrent sessions for key \(key.fingerprint): the limit is 1"))

        holder.close()
        let deadline = ContinuousClock.now + .seconds(5)
        while server.server.connections.count > 0 && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        let third = try server.ssh("echo third", key: key)
        #expect(third.status == 0, "the slot should be free again: \(third.errorOutput)")
        #expect(third.output == "third\n")
    }

    @Test func authFailuresPerAddressLimited() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory) {
            $0.maxAuthFailuresPerAddress = 3
            $0.authFailureWindow = .seconds(600)
        }
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        for attempt in 0..<2 {
            let client = try LibSSHClient(port: server.port)
            defer { client.close() }
            let result = ssh_userauth_password(client.session, nil, "guess \(attempt)")
            #expect(result == SSH_AUTH_DENIED.rawValue)
        }
        let last = try LibSSHClient(port: server.port)
        defer { last.close() }
        #expect(ssh_userauth_password(last.session, nil, "guess 3") == SSH_AUTH_DENIED.rawValue)
        #expect(last.waitUntilServerCloses(timeout: .seconds(5)))

        // Even a valid key is turned away now, with a reason that OpenSSH prints at its
        // default log level.
        let arguments = server.sshArguments(key: key).map { $0 == "LogLevel=ERROR" ? "LogLevel=INFO" : $0 }
        let blocked = try Command.runAllowingFailure("ssh", arguments + ["echo blocked"])
        #expect(blocked.status == 255)
        #expect(blocked.output == "")
        #expect(
            blocked.errorOutput.contains("too many failed authentications from 127.0.0.1; try again in"),
            "client saw: \(blocked.errorOutput)")
    }

    @Test func keyExchangeTimesOut() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory) {
            $0.keyExchangeTimeout = .seconds(1)
            $0.authTimeout = .seconds(30)
        }
        defer { server.stop() }

        let started = ContinuousClock.now
        let received = try readUntilClosed(port: server.port, limit: .seconds(10))
        let elapsed = ContinuousClock.now - started
        #expect(String(decoding: received, as: UTF8.self).hasPrefix("SSH-2.0-"))
        #expect(elapsed >= .milliseconds(900))
        #expect(elapsed < .seconds(5), "the server should close the connection after 1 s")
    }

    /// The client stalls in authentication: its key has a passphrase, which an askpass
    /// program gives only after the server's 1 s deadline.
    @Test func authenticationTimeoutExplained() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory) { $0.authTimeout = .seconds(1) }
        defer { server.stop() }
        let keyPath = directory.file("locked_key")
        try Command.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "secret", "-f", keyPath])
        let askpass = directory.file("askpass")
        try "#!/bin/sh\nsleep 3\necho secret\n".write(toFile: askpass, atomically: true, encoding: .utf8)
        chmod(askpass, 0o700)

        let arguments = [
            "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "LogLevel=INFO",
            "-i", keyPath, "-p", String(server.port), "127.0.0.1", "echo late",
        ]
        let result = try Command.runAllowingFailure(
            "ssh", arguments, environment: ["SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force"])
        #expect(result.status == 255)
        #expect(
            result.errorOutput.contains("authentication timed out after 1 s"),
            "client saw: \(result.errorOutput)")
    }

    @Test func remoteForwardingExplainedToHandler() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        let result = try server.ssh(
            "rejected", key: key, extra: ["-R", "127.0.0.1:0:127.0.0.1:9"])
        #expect(result.status == 0)
        #expect(result.output == "remoteForwarding(address: \"127.0.0.1:0\")\n")
    }

    @Test func agentForwardingExplainedToHandler() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)
        // OpenSSH asks for agent forwarding only when an agent answers on the socket.
        let socket = directory.file("agent.sock")
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: try Command.resolve("ssh-agent"))
        agent.arguments = ["-D", "-a", socket]
        agent.standardOutput = FileHandle.nullDevice
        try agent.run()
        defer {
            // SIGKILL: ssh-agent -D, started by the test process, outlived SIGTERM here.
            kill(agent.processIdentifier, SIGKILL)
            agent.waitUntilExit()
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while !FileManager.default.fileExists(atPath: socket) && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }

        // The agent must also be the client's own (IdentityAgent) for ssh to forward it.
        let arguments =
            server.sshArguments(key: key, extra: ["-A"]).map {
                $0 == "IdentityAgent=none" ? "IdentityAgent=\(socket)" : $0
            } + ["rejected"]
        let result = try Command.runAllowingFailure("ssh", arguments)
        #expect(result.status == 0, "ssh failed: \(result.errorOutput)")
        #expect(result.output == "agentForwarding\n")
        let plain = try server.ssh("rejected", key: key)
        #expect(plain.output == "\n")
    }

    @Test func environmentReachesHandler() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        let result = try server.ssh(
            "environment", key: key, extra: ["-o", "SetEnv=LANG=C.UTF-8 PARTICLE_TEST=yes"])
        #expect(result.status == 0)
        #expect(result.output == "LANG=C.UTF-8\nPARTICLE_TEST=yes\n")
    }
}
