import Foundation
import Support
import Testing

@testable import Gateway

/// Exec, shell and stdin round trips through OpenSSH's `ssh` client.
@Suite struct SSHServerExecTests {
    @Test func execOutputAndExitStatus() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        let result = try server.ssh("echo hello world", key: key)
        #expect(result.status == 0)
        #expect(result.output == "hello world\n")
        #expect(result.errorOutput == "")
    }

    @Test func execSeparatesStandardError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        let result = try server.ssh("fail", key: key)
        #expect(result.status == 3)
        #expect(result.output == "partial output\n")
        #expect(result.errorOutput == "fail: something broke\n")
    }

    @Test func handlerSeesIdentity() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        let result = try server.ssh("whoami", key: key)
        #expect(result.output == "account-1 tester \(key.fingerprint)\n")
        let keys = server.handler.record.withLock { $0.authenticatedKeys }
        #expect(keys.count == 1)
        #expect(keys.first?.algorithm == "ssh-ed25519")
        let publicLine = try String(contentsOfFile: key.path + ".pub", encoding: .utf8)
        #expect(publicLine.hasPrefix(keys.first?.openSSHLine ?? "missing"))
    }

    @Test func stdinReachesHandler() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        // Larger than libssh's initial channel window, so that window adjustments are needed.
        var input = Data()
        for line in 0..<40_000 { input.append(contentsOf: "line \(line)\n".utf8) }
        let result = try server.ssh("cat", key: key, input: input)
        #expect(result.status == 0)
        #expect(result.output.utf8.count == input.count)
        #expect(Data(result.output.utf8) == input)
        #expect(server.handler.record.withLock { $0.stdinByteCount } == input.count)
    }

    @Test func shellPrintsHelp() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        let result = try server.ssh(nil, key: key)
        #expect(result.status == 0)
        #expect(result.output == "usage: ssh HOST COMMAND\n")
    }

    @Test func pseudoTerminalTranslatesNewlines() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        let result = try server.ssh("echo with terminal", key: key, extra: ["-tt"])
        #expect(result.status == 0)
        #expect(result.output == "with terminal\r\n")
    }

    @Test func hangupVisibleToHandler() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Command.resolve("ssh"))
        process.arguments = server.sshArguments(key: key) + ["wait-for-hangup"]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }

        let firstLine = output.fileHandleForReading.availableData
        #expect(String(decoding: firstLine, as: UTF8.self) == "ready\n")
        // SIGKILL, as for a client that dies or loses its network: ssh keeps SIGTERM ignored
        // when its parent (the test runner) ignores it.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline,
            !server.handler.record.withLock({ $0.hangupDetected })
        {
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(server.handler.record.withLock { $0.hangupDetected })
    }
}
