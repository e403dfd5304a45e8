import Foundation
import Support
import Synchronization

@testable import Gateway

/// A temporary directory; tests call `remove()` in a `defer` so that it goes even on failure.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "particle-gateway-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// An ed25519 client key made by `ssh-keygen`, with its fingerprint as `ssh-keygen` prints it.
struct ClientKey {
    let path: String
    let fingerprint: String

    static func generate(in directory: TemporaryDirectory, name: String = "id_ed25519") throws
        -> ClientKey
    {
        let path = directory.file(name)
        try Command.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path])
        let listing = try Command.run("ssh-keygen", ["-l", "-f", path]).output
        return ClientKey(path: path, fingerprint: String(listing.split(separator: " ")[1]))
    }
}

/// The handler behind the test server: a few commands and a record of what it saw.
final class RecordingHandler: SSHSessionHandler {
    struct Record {
        var authenticatedKeys: [SSHPublicKeyInfo] = []
        var hangupDetected = false
        var stdinByteCount: Int?
        var tunnelsOpened = 0
        var tunnelsClosed = 0
    }

    let rejectedFingerprints: Set<String>
    let record = Mutex(Record())

    init(rejectedFingerprints: Set<String> = []) {
        self.rejectedFingerprints = rejectedFingerprints
    }

    func authenticate(_ key: SSHPublicKeyInfo, user: String, peer: String) -> SSHIdentity? {
        record.withLock { $0.authenticatedKeys.append(key) }
        guard !rejectedFingerprints.contains(key.fingerprint) else { return nil }
        return SSHIdentity(accountID: "account-1", keyFingerprint: key.fingerprint, user: user)
    }

    func exec(_ command: String, identity: SSHIdentity, io: SSHCommandIO) -> Int32 {
        let words = command.split(separator: " ").map(String.init)
        switch words.first {
        case "echo":
            io.write(words.dropFirst().joined(separator: " ") + "\n")
            return 0
        case "fail":
            io.write("partial output\n")
            io.writeError("fail: something broke\n")
            return 3
        case "cat":
            return echoStandardInput(io)
        case "whoami":
            io.write("\(identity.accountID) \(identity.user) \(identity.keyFingerprint)\n")
            return 0
        case "wait-for-hangup":
            io.write("ready\n")
            return waitForHangup(io)
        case "rejected":
            io.write(io.rejectedRequests.map { "\($0)" }.joined(separator: "\n") + "\n")
            return 0
        case "environment":
            io.write(io.environment.map { "\($0.name)=\($0.value)" }.joined(separator: "\n") + "\n")
            return 0
        default:
            io.writeError("unknown command: \(command)\n")
            return 127
        }
    }

    func shell(identity: SSHIdentity, io: SSHCommandIO) -> Int32 {
        io.write("usage: ssh HOST COMMAND\n")
        return 0
    }

    /// Connects target `echo` (any port) to an echo server on a Unix socket pair, which
    /// returns every byte and closes after the client's EOF; rejects every other target.
    func openTunnel(host: String, port: Int, identity: SSHIdentity)
        -> Result<SSHTunnelEndpoint, TunnelRejection>
    {
        guard host == "echo" else { return .failure(TunnelRejection("no tunnel to \(host)")) }
        var sockets: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &sockets) == 0 else {
            return .failure(TunnelRejection("socketpair failed: errno \(errno)"))
        }
        let (relayEnd, echoEnd) = (sockets[0], sockets[1])
        Thread.detachNewThread { Self.echo(echoEnd) }
        record.withLock { $0.tunnelsOpened += 1 }
        return .success(
            SSHTunnelEndpoint(socket: relayEnd) { [self] in
                close(relayEnd)
                record.withLock { $0.tunnelsClosed += 1 }
            })
    }

    private static func echo(_ socket: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(socket, &buffer, buffer.count)
            guard count > 0 else { break }
            var offset = 0
            while offset < count {
                let written = buffer[offset..<count].withUnsafeBytes {
                    write(socket, $0.baseAddress, $0.count)
                }
                guard written > 0 else { break }
                offset += written
            }
        }
        close(socket)
    }

    private func echoStandardInput(_ io: SSHCommandIO) -> Int32 {
        do {
            let input = try io.readAll(limit: 8 << 20)
            record.withLock { $0.stdinByteCount = input.count }
            io.write(input)
            return 0
        } catch {
            io.writeError("cat: \(error)\n")
            return 1
        }
    }

    private func waitForHangup(_ io: SSHCommandIO) -> Int32 {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if io.isClosed {
                record.withLock { $0.hangupDetected = true }
                return 130
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return 0
    }
}

/// A running server on 127.0.0.1 and an ephemeral port, with its temporary host key folder.
///
/// Tests call `stop()` in a `defer`, next to the `remove()` of the directory they pass in.
final class TestServer {
    let server: SSHServer
    let handler: RecordingHandler
    let directory: TemporaryDirectory

    init(
        handler: RecordingHandler = RecordingHandler(), directory: TemporaryDirectory,
        configure: (inout SSHServer.Configuration) -> Void = { _ in }
    ) throws {
        self.directory = directory
        var configuration = SSHServer.Configuration(
            host: "127.0.0.1", port: 0, hostKeyDirectory: self.directory.file("host-keys"))
        configure(&configuration)
        self.handler = handler
        server = SSHServer(
            configuration: configuration, handler: handler, logger: Logger(label: "gateway-test"))
        try server.start()
    }

    var port: Int { server.port }

    func stop() {
        server.shutdown()
    }

    /// Arguments for OpenSSH's `ssh` that reach this server with `key`, without any user
    /// configuration, agent or known_hosts file.
    func sshArguments(key: ClientKey, user: String = "tester", extra: [String] = []) -> [String] {
        [
            "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o",
            "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-i", key.path, "-p", String(port),
            "-l", user,
        ] + extra + ["127.0.0.1"]
    }

    /// Runs `ssh 127.0.0.1 command` and returns its result whatever the exit status.
    func ssh(
        _ command: String?, key: ClientKey, input: Data? = nil, extra: [String] = []
    ) throws -> CommandResult {
        let arguments = sshArguments(key: key, extra: extra) + (command.map { [$0] } ?? [])
        return try Command.runAllowingFailure("ssh", arguments, input: input)
    }
}

/// A failed test step, with what went wrong.
struct TestFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
