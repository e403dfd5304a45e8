import CLibSSH
import Foundation
import Support
import Testing

@testable import Gateway

/// Authentication rules, checked with OpenSSH's `ssh` and with a libssh client that can send
/// what `ssh` never would (passwords, unsigned probes).
@Suite struct SSHServerAuthTests {
    @Test func rejectedKeyFailsLogin() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = try ClientKey.generate(in: directory)
        let handler = RecordingHandler(rejectedFingerprints: [key.fingerprint])
        let server = try TestServer(handler: handler, directory: directory)
        defer { server.stop() }

        let result = try server.ssh("echo should not run", key: key)
        #expect(result.status == 255)
        #expect(result.output == "")
        #expect(result.errorOutput.contains("Permission denied (publickey)"))
        #expect(handler.record.withLock { $0.authenticatedKeys.count } == 1)
    }

    @Test func passwordRejected() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }

        let client = try LibSSHClient(port: server.port)
        defer { client.close() }
        #expect(ssh_userauth_none(client.session, nil) == SSH_AUTH_DENIED.rawValue)
        #expect(ssh_userauth_list(client.session, nil) == Int32(SSH_AUTH_METHOD_PUBLICKEY))
        #expect(ssh_userauth_password(client.session, nil, "secret") == SSH_AUTH_DENIED.rawValue)
        #expect(server.handler.record.withLock { $0.authenticatedKeys.isEmpty })
    }

    @Test func authAttemptsLimited() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory) { $0.maxAuthAttempts = 3 }
        defer { server.stop() }

        let client = try LibSSHClient(port: server.port)
        defer { client.close() }
        var results: [Int32] = []
        for _ in 0..<3 {
            results.append(ssh_userauth_password(client.session, nil, "guess"))
        }
        let denied = SSH_AUTH_DENIED.rawValue
        #expect(results == [denied, denied, denied])
        // A fourth call would hang: libssh 0.10's client polls forever once the server is gone.
        #expect(client.waitUntilServerCloses(timeout: .seconds(5)))
    }

    @Test func unsignedProbeDoesNotAuthenticate() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let key = try ClientKey.generate(in: directory)

        var privateKey: ssh_key?
        #expect(ssh_pki_import_privkey_file(key.path, nil, nil, nil, &privateKey) == SSH_OK)
        var publicKey: ssh_key?
        #expect(ssh_pki_export_privkey_to_pubkey(privateKey, &publicKey) == SSH_OK)
        defer {
            ssh_key_free(privateKey)
            ssh_key_free(publicKey)
        }

        let client = try LibSSHClient(port: server.port)
        defer { client.close() }
        let probe = ssh_userauth_try_publickey(client.session, nil, publicKey)
        #expect(probe == SSH_AUTH_SUCCESS.rawValue, "a probe should get SSH_MSG_USERAUTH_PK_OK")
        let channel = ssh_channel_new(client.session)
        defer { ssh_channel_free(channel) }
        #expect(ssh_channel_open_session(channel) != SSH_OK)
        #expect(server.handler.record.withLock { $0.authenticatedKeys.isEmpty })
    }

    @Test func idleConnectionTimesOut() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try TestServer(directory: directory) { $0.authTimeout = .seconds(1) }
        defer { server.stop() }

        let started = ContinuousClock.now
        let received = try readUntilClosed(port: server.port, limit: .seconds(10))
        let elapsed = ContinuousClock.now - started
        #expect(String(decoding: received, as: UTF8.self).hasPrefix("SSH-2.0-"))
        #expect(elapsed >= .milliseconds(900))
        #expect(elapsed < .seconds(5), "the server should close the connection after 1 s")
    }
}

/// A libssh client session connected to 127.0.0.1 without host key checks.
final class LibSSHClient {
    let session: ssh_session

    init(port: Int) throws {
        guard let session = ssh_new() else { throw TestFailure("ssh_new failed") }
        self.session = session
        var processConfig = false
        var portNumber = UInt32(port)
        ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &processConfig)
        ssh_options_set(session, SSH_OPTIONS_HOST, "127.0.0.1")
        ssh_options_set(session, SSH_OPTIONS_PORT, &portNumber)
        ssh_options_set(session, SSH_OPTIONS_USER, "tester")
        guard ssh_connect(session) == SSH_OK else {
            let message = String(cString: ssh_get_error(UnsafeMutableRawPointer(session)))
            ssh_free(session)
            throw TestFailure("ssh_connect to port \(port) failed: \(message)")
        }
    }

    /// Waits until the server closes the TCP connection; returns false on timeout.
    func waitUntilServerCloses(timeout: Duration) -> Bool {
        let fd = ssh_get_fd(session)
        // libssh closes its socket itself once it has read the server's close.
        guard fd >= 0 else { return true }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = ContinuousClock.now + timeout
        var byte: UInt8 = 0
        while ContinuousClock.now < deadline {
            guard poll(&descriptor, 1, 100) > 0 else { continue }
            let count = recv(fd, &byte, 1, 0)
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) { return true }
        }
        return false
    }

    func close() {
        ssh_disconnect(session)
        ssh_free(session)
    }
}

/// Connects to 127.0.0.1:`port`, sends nothing, and returns what arrives before the server
/// closes the connection.
func readUntilClosed(port: Int, limit: Duration) throws -> [UInt8] {
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
    guard connected == 0 else {
        throw TestFailure(
            "connect to 127.0.0.1:\(port) failed: \(String(cString: strerror(errno)))")
    }
    var timeout = timeval(tv_sec: Int(limit.components.seconds), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count <= 0 { return received }
        received += buffer.prefix(count)
    }
}
