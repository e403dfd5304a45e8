import Control
import Foundation
import Support

/// A connection to `particle-agent` in the guest, over its serial port (ttyS1) that QEMU serves
/// on a unix socket.
///
/// Blocking: use it from a dedicated thread. QEMU's socket serves one client at a time, so
/// connect for a task and let the value go (which closes the socket) when it is done.
/// `GuestFiles.agent` documents the requests.
final class GuestAgent {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var nextID = 1

    init(path: String) throws {
        fd = try UnixSocket.connect(path: path)
    }

    deinit {
        close(fd)
    }

    /// Sets the guest's wall clock to the host's.
    func setClock() throws {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        try request("time", ["\(now.tv_sec)", "\(now.tv_nsec)"])
    }

    /// Mixes 64 fresh random bytes from the host into the guest's pool and reseeds its
    /// random number generator.
    func refreshEntropy() throws {
        // The system generator reads the kernel's (getrandom), never a seeded user-space one.
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<64).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        try request("entropy", [bytes.map { String(format: "%02x", $0) }.joined()])
    }

    /// Makes the guest apply its config drive again and reload sshd.
    func applyIdentity() throws {
        try request("identity", [], timeout: .seconds(30))
    }

    /// Asks for the guest's next systemd timer or cron job, and the cron job that runs now.
    func timers() throws -> GuestTimers {
        GuestTimers(reply: try request("timers", [], timeout: .seconds(10)))
    }

    /// Sends one request and returns the words after `ok ID`; `error ID REASON` throws.
    @discardableResult
    func request(_ command: String, _ arguments: [String], timeout: Duration = .seconds(5))
        throws -> [String]
    {
        let id = String(nextID)
        nextID += 1
        let line = Array(([command, id] + arguments).joined(separator: " ").utf8) + [0x0a]
        try line.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let count = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                guard count > 0 else { throw GuestAgentError("the agent's port closed while sending \(command)") }
                sent += count
            }
        }
        let deadline = ContinuousClock.now + timeout
        while true {
            let words = try readLine(until: deadline, command: command).split(separator: " ").map(String.init)
            // Lines for other ids are answers to earlier requests that timed out; skip them.
            guard words.count >= 2, words[1] == id else { continue }
            if words[0] == "ok" { return Array(words.dropFirst(2)) }
            throw GuestAgentError("the guest agent refused \(command): \(words.dropFirst(2).joined(separator: " "))")
        }
    }

    private func readLine(until deadline: ContinuousClock.Instant, command: String) throws -> String {
        while true {
            if let newline = buffer.firstIndex(of: 0x0a) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                throw GuestAgentError("the guest agent did not answer \(command) within the deadline")
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(max(1, left.milliseconds))) == 1 else { continue }
            var chunk = [UInt8](repeating: 0, count: 1024)
            let count = recv(fd, &chunk, chunk.count, 0)
            guard count > 0 else { throw GuestAgentError("the agent's port closed") }
            buffer += chunk[..<count]
        }
    }
}

/// A failed exchange with the guest agent.
struct GuestAgentError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
