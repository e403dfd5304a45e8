import Foundation
import Support
import Synchronization
import Testing

@testable import VMM

/// GuestSSH against a real OpenSSH sshd on 127.0.0.1.
@Suite struct GuestSSHTests {
    @Test func execReturnsOutputAndStatus() throws {
        let sshd = try TestSSHD()
        defer { sshd.stop() }

        let chunks = Mutex<[(String, Bool)]>([])
        let result = try GuestSSH.exec(
            fd: try sshd.connect(), user: "root", privateKey: sshd.clientPrivateKey,
            expectedHostKey: sshd.hostPublicKey,
            command: "echo out; sleep 0.1; echo err >&2; exit 7", timeout: .seconds(10)
        ) { bytes, isError in
            chunks.withLock { $0.append((String(decoding: bytes, as: UTF8.self), isError)) }
        }
        #expect(result.exitCode == 7)
        #expect(String(decoding: result.output, as: UTF8.self) == "out\nerr\n")
        let received = chunks.withLock { $0 }
        #expect(received.map(\.0).joined() == "out\nerr\n")
        #expect(received.first.map { $0 == ("out\n", false) } == true)
        #expect(received.last.map { $0 == ("err\n", true) } == true)
    }

    @Test func execClosesItsConnection() throws {
        let sshd = try TestSSHD()
        defer { sshd.stop() }
        var sockets: [Int32] = []
        for _ in 0..<3 {
            let fd = try sshd.connect()
            sockets.append(fd)
            let result = try GuestSSH.exec(
                fd: fd, user: "root", privateKey: sshd.clientPrivateKey,
                expectedHostKey: sshd.hostPublicKey, command: "true", timeout: .seconds(10),
                onOutput: nil)
            #expect(result.exitCode == 0)
        }
        // Each socket is closed once exec returns (a new descriptor may reuse the number, so
        // check that the numbers are not sockets connected to sshd anymore).
        for fd in sockets {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let connected = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) == 0 }
            }
            #expect(!connected || Int(UInt16(bigEndian: address.sin_port)) != sshd.port, "fd \(fd) still open")
        }
    }

    @Test func largeOutputArrivesWhole() throws {
        let sshd = try TestSSHD()
        defer { sshd.stop() }

        // About 1.3 MB, many times the channel window.
        let result = try GuestSSH.exec(
            fd: try sshd.connect(), user: "root", privateKey: sshd.clientPrivateKey,
            expectedHostKey: sshd.hostPublicKey, command: "seq 1 200000", timeout: .seconds(10),
            onOutput: nil)
        let expected = (1...200_000).map { "\($0)\n" }.joined()
        #expect(result.exitCode == 0)
        #expect(result.output.count == expected.utf8.count)
        #expect(String(decoding: result.output, as: UTF8.self) == expected)
    }

    @Test func signalBecomesExitCode() throws {
        let sshd = try TestSSHD()
        defer { sshd.stop() }

        let result = try GuestSSH.exec(
            fd: try sshd.connect(), user: "root", privateKey: sshd.clientPrivateKey,
            expectedHostKey: sshd.hostPublicKey, command: "kill -KILL $$", timeout: .seconds(10),
            onOutput: nil)
        #expect(result.exitCode == 128 + 9)
    }

    @Test func wrongHostKeyRejected() throws {
        let sshd = try TestSSHD()
        defer { sshd.stop() }
        let other = try GuestSSH.generateKeyPair(comment: "not-the-guest")

        #expect {
            try GuestSSH.exec(
                fd: try sshd.connect(), user: "root", privateKey: sshd.clientPrivateKey,
                expectedHostKey: other.publicKey, command: "echo never", timeout: .seconds(10),
                onOutput: nil)
        } throws: { error in
            (error as? GuestSSHError)?.code == .hostKeyMismatch
        }
    }

    @Test func wrongClientKeyRejected() throws {
        let sshd = try TestSSHD()
        defer { sshd.stop() }
        let stranger = try GuestSSH.generateKeyPair(comment: "stranger")

        #expect {
            try GuestSSH.exec(
                fd: try sshd.connect(), user: "root", privateKey: stranger.privateKey,
                expectedHostKey: sshd.hostPublicKey, command: "echo never", timeout: .seconds(10),
                onOutput: nil)
        } throws: { error in
            (error as? GuestSSHError)?.code == .authenticationFailed
        }
    }

    @Test func silentServerTimesOut() throws {
        // A listener that never accepts: the kernel completes the TCP handshake, then nothing.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = loopbackAddress(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        try #require(bound && listen(listener, 4) == 0)
        let fd = try connectLoopback(port: Int(UInt16(bigEndian: address.sin_port)))

        let started = ContinuousClock.now
        #expect {
            try GuestSSH.exec(
                fd: fd, user: "root",
                privateKey: try GuestSSH.generateKeyPair(comment: "").privateKey,
                expectedHostKey: try GuestSSH.generateKeyPair(comment: "").publicKey,
                command: "true", timeout: .seconds(1), onOutput: nil)
        } throws: { error in
            (error as? GuestSSHError)?.code == .timedOut
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func generatedKeyReadableByOpenSSH() throws {
        let pair = try GuestSSH.generateKeyPair(comment: "particle-platform")
        #expect(pair.privateKey.hasPrefix("-----BEGIN OPENSSH PRIVATE KEY-----"))
        #expect(pair.publicKey.hasPrefix("ssh-ed25519 "))
        #expect(pair.publicKey.hasSuffix(" particle-platform"))

        let directory = NSTemporaryDirectory() + "particle-key-\(UUID().uuidString)"
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/key"
        let created = FileManager.default.createFile(
            atPath: path, contents: Data(pair.privateKey.utf8),
            attributes: [.posixPermissions: 0o600])
        try #require(created)
        let derived = try Command.run("ssh-keygen", ["-y", "-f", path]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let derivedFields = derived.split(separator: " ").prefix(2).joined(separator: " ")
        let publicFields = pair.publicKey.split(separator: " ").prefix(2).joined(separator: " ")
        #expect(derivedFields == publicFields)
    }
}
