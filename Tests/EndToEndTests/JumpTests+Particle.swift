import Foundation
import Support
import Testing

/// The checks of `JumpTests` that reach the guest as `web@host`, copy files with sftp and
/// rsync, forward a port with `ssh -L`, and follow the serial log.
extension JumpTests {
    /// `ssh web@host COMMAND`: output, standard error, input and exit status come through, and
    /// a command killed by a signal ends the client as OpenSSH's sshd would (status 255).
    func checkParticleCommands(_ harness: ParticledHarness) throws {
        let result = try harness.ssh("hostname; echo oops >&2; exit 7", user: "web")
        #expect(result.status == 7, "stderr: \(result.errorOutput)\n\(harness.log.suffix(2000))")
        #expect(result.output == "web\n")
        #expect(result.errorOutput == "oops\n")

        let input = String(repeating: "0123456789", count: 30_000)
        let counted = try harness.ssh("wc -c", user: "web", input: input)
        #expect(counted.status == 0)
        #expect(counted.output.trimmingCharacters(in: .whitespacesAndNewlines) == "300000")

        let killed = try harness.ssh("kill -TERM $$", user: "web")
        #expect(killed.status == 255)
        #expect(harness.log.contains("signal=TERM"))
        #expect(harness.log.contains("msg=\"particle session closed\""))
    }

    /// `ssh -t web@host` on a real terminal: the terminal size and its changes, Ctrl-C
    /// interrupting a command, and the shell's exit status.
    func checkParticleTerminal(_ harness: ParticledHarness) throws {
        let command = ["ssh", "-t"] + harness.sshArguments(user: "web")
        let steps: [[String: Any]] = [
            ["resize": [30, 100]],
            ["expect": "root@web:", "timeout": 60],
            ["send": "stty size\r"], ["expect": "30 100"],
            ["resize": [40, 120]],
            ["send": "stty size\r"], ["expect": "40 120"],
            ["send": "sleep 30\r"], ["sleep": 1],
            ["send": "\u{03}"],
            ["send": "echo after-$?\r"], ["expect": "after-130"],
            ["send": "exit 5\r"],
        ]
        let result = try TerminalDriver.run(command, steps: steps, in: harness.directory)
        #expect(result.missing == nil, "never saw '\(result.missing ?? "")' in: \(result.transcript)")
        #expect(result.status == 5, "transcript: \(result.transcript)")
    }

    /// sftp straight to `web@host` (the gateway relays the subsystem) and through `ssh -J`,
    /// and rsync over `ssh -J`, each a round trip of the same bytes.
    func checkFileTransfers(_ harness: ParticledHarness, config: String, jump: String) throws {
        let original = harness.directory.appendingPathComponent("sftp.bin")
        let content = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 11) })
        try content.write(to: original)

        let direct = harness.directory.appendingPathComponent("sftp-direct.bin")
        let sftpArguments = harness.sshArguments(user: "web").map { $0 == "-p" ? "-P" : $0 }
        let batch = "put \(original.path) /root/sftp.bin\nget /root/sftp.bin \(direct.path)\n"
        let viaGateway = try Command.runAllowingFailure(
            "sftp", ["-b", "-"] + sftpArguments, input: Data(batch.utf8))
        #expect(viaGateway.status == 0, "sftp web@host: \(viaGateway.errorOutput)")
        #expect(try Data(contentsOf: direct) == content)

        let jumped = harness.directory.appendingPathComponent("sftp-jump.bin")
        let jumpBatch = "get /root/sftp.bin \(jumped.path)\n"
        let viaJump = try Command.runAllowingFailure(
            "sftp", ["-b", "-", "-F", config, "-J", jump, "root@web"], input: Data(jumpBatch.utf8))
        #expect(viaJump.status == 0, "sftp -J: \(viaJump.errorOutput)")
        #expect(try Data(contentsOf: jumped) == content)

        try installRsync(harness)
        let tree = harness.directory.appendingPathComponent("tree")
        try FileManager.default.createDirectory(
            at: tree.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try content.write(to: tree.appendingPathComponent("sub/data.bin"))
        try "hello\n".write(to: tree.appendingPathComponent("note.txt"), atomically: true, encoding: .utf8)
        let shell = "ssh -F \(config) -J \(jump)"
        let upload = try Command.runAllowingFailure(
            "rsync", ["-a", "-e", shell, tree.path + "/", "root@web:/root/tree/"])
        #expect(upload.status == 0, "rsync up: \(upload.errorOutput)")
        let back = harness.directory.appendingPathComponent("tree-back")
        let download = try Command.runAllowingFailure(
            "rsync", ["-a", "-e", shell, "root@web:/root/tree/", back.path + "/"])
        #expect(download.status == 0, "rsync down: \(download.errorOutput)")
        #expect(try Data(contentsOf: back.appendingPathComponent("sub/data.bin")) == content)
        #expect(try String(contentsOf: back.appendingPathComponent("note.txt"), encoding: .utf8) == "hello\n")
    }

    /// Installs the host's rsync and the libraries it needs in the guest, streamed through
    /// `ssh web@host`, because the guest image has none (both are Debian 12).
    private func installRsync(_ harness: ParticledHarness) throws {
        let rsync = try Command.resolve("rsync")
        let staging = harness.directory.appendingPathComponent("rsync-staging")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        try Command.run("cp", ["-L", rsync, staging.appendingPathComponent("rsync").path])
        let libraries = try Command.run("ldd", [rsync]).output.split(separator: "\n").compactMap {
            line -> String? in
            let parts = line.split(separator: " ")
            guard parts.count >= 3, parts[1] == "=>", !parts[0].hasPrefix("libc.so") else { return nil }
            return String(parts[2])
        }
        for library in libraries {
            try Command.run("cp", ["-L", library, staging.path + "/"])
        }
        let tarball = harness.directory.appendingPathComponent("rsync.tar")
        try Command.run("tar", ["-C", staging.path, "-cf", tarball.path, "."])
        let install = """
            mkdir -p /opt/rsync && tar -x -C /opt/rsync && \
            printf '#!/bin/sh\\nLD_LIBRARY_PATH=/opt/rsync exec /opt/rsync/rsync "$@"\\n' \
            > /usr/local/bin/rsync && chmod 755 /usr/local/bin/rsync && rsync --version | head -1
            """
        let result = try Command.runAllowingFailure(
            "ssh", harness.sshArguments(user: "web") + [install],
            input: try Data(contentsOf: tarball))
        #expect(result.status == 0, "installing rsync: \(result.errorOutput)")
        #expect(result.output.hasPrefix("rsync  version"))
    }

    /// `ssh -L PORT:web:8000 -N host` forwards a local port to a web server in the guest.
    func checkLocalForward(_ harness: ParticledHarness) throws {
        let server = try harness.ssh(
            "exec", "web", "--", "systemd-run python3 -m http.server 8000 -d /etc")
        #expect(server.status == 0, "starting the web server: \(server.errorOutput)")
        let port = try freeLocalPort()
        let forward = try SpawnedProcess(
            [try Command.resolve("ssh")]
                + harness.sshArguments(options: ["-N", "-L", "127.0.0.1:\(port):web:8000"]))
        defer { forward.stop() }

        var body = ""
        let deadline = Date().addingTimeInterval(60)
        while body != "web\n" && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            body = (try? Command.runAllowingFailure(
                "curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(port)/hostname"]))?.output ?? ""
        }
        #expect(body == "web\n", "through ssh -L: '\(body)'\n\(harness.log.suffix(2000))")
        #expect(harness.log.contains("destination=web:8000"))
    }

    /// `logs web -f` prints new console output as it arrives, and ends when the client
    /// hangs up.
    func checkFollowLogs(_ harness: ParticledHarness) throws {
        let follower = try SpawnedProcess(
            [try Command.resolve("ssh")] + harness.sshArguments() + ["logs", "web", "-f"])
        defer { follower.stop() }
        // A cold boot prints the guest's ready marker, a particle made from a template does not;
        // both start with QEMU's start line.
        let start = follower.read(until: "particle: QEMU started", timeout: 30)
        #expect(start.contains("particle: QEMU started"), "the log so far: \(start)")

        let marker = "follow-\(UUID().uuidString.prefix(8))"
        let write = try harness.ssh("exec", "web", "--", "echo \(marker) > /dev/console")
        #expect(write.status == 0)
        let more = follower.read(until: marker, timeout: 30)
        #expect(more.contains(marker), "followed output: \(more)")

        follower.stop()
        let deadline = Date().addingTimeInterval(10)
        var ended = false
        while !ended && Date() < deadline {
            ended = harness.log.split(separator: "\n").contains {
                $0.contains("request=logs") && $0.contains("hangup=true")
            }
            if !ended { Thread.sleep(forTimeInterval: 0.2) }
        }
        #expect(ended, "the follow did not end after the client hung up")
    }

    private func freeLocalPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw HarnessError("cannot find a free port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
