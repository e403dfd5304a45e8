import Foundation
import Support
import Testing

@testable import Gateway

/// Host keys, listening errors and rejected channel types.
@Suite struct SSHServerLifecycleTests {
    @Test func hostKeysPersistAcrossRestarts() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }

        let first = try TestServer(directory: directory)
        let firstFingerprints = first.server.hostKeyFingerprints
        first.stop()
        let second = try TestServer(directory: directory)
        let secondFingerprints = second.server.hostKeyFingerprints
        second.stop()

        #expect(firstFingerprints.count == 3)
        #expect(firstFingerprints == secondFingerprints)
        for (file, fingerprint) in zip(
            ["ssh_host_ed25519_key", "ssh_host_ecdsa_key", "ssh_host_rsa_key"], firstFingerprints)
        {
            let path = directory.file("host-keys/\(file)")
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue
            #expect(mode == 0o600, "\(file) has mode \(String(mode ?? 0, radix: 8))")
            let listing = try Command.run("ssh-keygen", ["-l", "-f", path]).output
            #expect(listing.contains(fingerprint), "\(file): \(listing)")
        }
    }

    @Test func hostKeyModeTightened() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try TestServer(directory: directory)
        first.stop()
        let path = directory.file("host-keys/ssh_host_ed25519_key")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)

        let second = try TestServer(directory: directory)
        second.stop()
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func portTakenNamesAddress() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try TestServer(directory: directory)
        defer { first.stop() }

        do {
            let second = try TestServer(directory: directory) { $0.port = first.port }
            second.stop()
            Issue.record("the second server started on a port in use")
        } catch let error as GatewayError {
            #expect(error.code == .addressInUse)
            #expect(error.description.contains("127.0.0.1:\(first.port)"))
        }
    }

    @Test func directTCPIPRejected() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        let result = try server.ssh(nil, key: key, extra: ["-W", "127.0.0.1:9"])
        #expect(result.status != 0)
        #expect(result.errorOutput.contains("stdio forwarding failed"))
    }

    @Test func directTCPIPRelaysBothWays() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        // About 7 MB, several channel windows' worth, so both directions have to stop and
        // resume reading.
        // A file on standard input, because `Command` writes all of `input` before it reads
        // any output, which would fill both pipes and stop ssh.
        let input = (0..<600_000).map { "line \($0)\n" }.joined()
        let inputPath = directory.file("input.txt")
        try input.write(toFile: inputPath, atomically: true, encoding: .utf8)
        let ssh = (["ssh"] + server.sshArguments(key: key, extra: ["-W", "echo:7"]))
            .map { "'\($0)'" }.joined(separator: " ")
        let result = try Command.runAllowingFailure("sh", ["-c", "exec \(ssh) < '\(inputPath)'"])
        #expect(result.status == 0, "ssh -W failed: \(result.errorOutput)")
        #expect(result.output.utf8.count == input.utf8.count)
        #expect(result.output == input)

        let deadline = ContinuousClock.now + .seconds(5)
        while server.handler.record.withLock({ $0.tunnelsClosed }) == 0
            && ContinuousClock.now < deadline
        {
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(server.handler.record.withLock { $0.tunnelsOpened } == 1)
        #expect(server.handler.record.withLock { $0.tunnelsClosed } == 1)
    }

    @Test func remoteForwardRejected() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        let result = try server.ssh(
            "echo forwarded", key: key,
            extra: ["-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:127.0.0.1:9"])
        #expect(result.status == 255)
        #expect(result.errorOutput.contains("remote port forwarding failed"))
    }

    @Test func subsystemRejected() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        let result = try server.ssh("sftp", key: key, extra: ["-s"])
        #expect(result.status != 0)
        #expect(result.errorOutput.contains("subsystem request failed"))
    }

    @Test func shutdownDisconnectsSessions() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        let key = try ClientKey.generate(in: directory)
        #expect(try server.ssh("echo before", key: key).status == 0)

        server.stop()
        #expect(server.server.port == 0)
        #expect(server.server.connections.count == 0)
        let after = try Command.runAllowingFailure(
            "ssh", server.sshArguments(key: key) + ["echo after"])
        #expect(after.status == 255)
    }
}
