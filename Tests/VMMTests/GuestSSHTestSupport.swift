import Foundation
import Support

@testable import VMM

/// An OpenSSH `sshd` on 127.0.0.1 with a temporary host key and one authorized key.
///
/// Tests call `stop()` in a `defer`; it kills sshd and removes the temporary folder.
final class TestSSHD {
    let directory: String
    let port: Int
    let hostPublicKey: String
    let clientPrivateKey: String
    private let process: Process

    init() throws {
        directory = NSTemporaryDirectory() + "particle-sshd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
        do {
            let hostKey = "\(directory)/host_key"
            try Command.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey])
            hostPublicKey = try String(contentsOfFile: hostKey + ".pub", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let client = try GuestSSH.generateKeyPair(comment: "particle-test")
            clientPrivateKey = client.privateKey
            try (client.publicKey + "\n").write(
                toFile: "\(directory)/authorized_keys", atomically: true, encoding: .utf8)
            try FileManager.default.createDirectory(
                atPath: "/run/sshd", withIntermediateDirectories: true)
            (process, port) = try Self.launch(directory: directory, hostKey: hostKey)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    func stop() {
        // SIGKILL: the test runner may leave SIGTERM ignored, and sshd would inherit that.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts sshd on a free port; retries with another port if one is taken meanwhile.
    private static func launch(directory: String, hostKey: String) throws -> (Process, Int) {
        for _ in 0..<3 {
            let port = try freePort()
            let config = """
                Port \(port)
                ListenAddress 127.0.0.1
                HostKey \(hostKey)
                AuthorizedKeysFile \(directory)/authorized_keys
                PidFile none
                StrictModes no
                UsePAM no
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PermitRootLogin prohibit-password
                LogLevel ERROR
                """
            let configPath = "\(directory)/sshd_config"
            try config.write(toFile: configPath, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/sshd")
            process.arguments = ["-D", "-e", "-f", configPath]
            process.standardInput = FileHandle.nullDevice
            try process.run()
            if waitForListener(port: port, process: process) { return (process, port) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        throw TestFailure("sshd did not start listening on 127.0.0.1 after three tries")
    }

    private static func waitForListener(port: Int, process: Process) -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline && process.isRunning {
            if let fd = try? connectLoopback(port: port) {
                close(fd)
                return true
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// Connects a new TCP socket to the sshd, as the VMM does inside a guest's namespace.
    func connect() throws -> Int32 {
        try connectLoopback(port: port)
    }
}

/// Returns a port that was free a moment ago on 127.0.0.1.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else { throw TestFailure("cannot bind a free port on 127.0.0.1") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Opens a TCP connection to 127.0.0.1:`port`.
func connectLoopback(port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = loopbackAddress(port: port)
    let status = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard status == 0 else {
        close(fd)
        throw TestFailure("cannot connect to 127.0.0.1:\(port)")
    }
    return fd
}

func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}

/// A failed test step, with what went wrong.
struct TestFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
