import Control
import Foundation

/// A connection to one QEMU's monitor (QMP) over its unix socket.
///
/// Blocking: call it from a dedicated thread. QMP sends one JSON object per line; asynchronous
/// events can arrive between a command and its reply and are skipped here.
final class QMPClient {
    private let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to `path`, reads the greeting and leaves capabilities negotiation mode.
    init(path: String, timeout: Duration = .seconds(5)) throws {
        fd = try UnixSocket.connect(path: path)
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        _ = try readMessage()
        try execute("qmp_capabilities")
    }

    deinit {
        close(fd)
    }

    /// Sends `command` and returns its `return` value; a QMP `error` reply throws.
    @discardableResult
    func execute(_ command: String, _ arguments: [String: Any]? = nil) throws -> Any {
        var message: [String: Any] = ["execute": command]
        if let arguments { message["arguments"] = arguments }
        var data = try JSONSerialization.data(withJSONObject: message)
        data.append(UInt8(ascii: "\n"))
        try data.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let count = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                guard count > 0 else { throw QMPError("QMP connection closed while sending \(command)") }
                sent += count
            }
        }
        while true {
            let reply = try readMessage()
            if let error = reply["error"] as? [String: Any] {
                throw QMPError("QMP \(command) failed: \(error["desc"] ?? error)")
            }
            if let value = reply["return"] { return value }
        }
    }

    /// Reads messages until the connection closes (QEMU exited) or `timeout` passes.
    /// Returns whether QEMU closed the connection.
    func waitForClose() -> Bool {
        while true {
            do { _ = try readMessage() } catch let error as QMPError { return error.closed } catch { return false }
        }
    }

    private func readMessage() throws -> [String: Any] {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(buffer[..<newline])
                buffer.removeSubrange(...newline)
                guard let object = try JSONSerialization.jsonObject(with: line) as? [String: Any] else {
                    throw QMPError("QMP sent a message that is not a JSON object")
                }
                return object
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &chunk, chunk.count, 0)
            if count == 0 { throw QMPError("QMP connection closed", closed: true) }
            guard count > 0 else {
                throw QMPError("reading from QMP failed: \(String(cString: strerror(errno)))")
            }
            buffer += chunk[..<count]
        }
    }
}

/// A failed QMP exchange.
struct QMPError: Error, CustomStringConvertible {
    var description: String
    var closed = false

    init(_ description: String, closed: Bool = false) {
        self.description = description
        self.closed = closed
    }
}
