import Foundation
import Glibc
import Support
import Synchronization

@testable import HTTPProxy

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A responder built from a closure.
struct ClosureResponder: HTTPResponder {
    let handler: @Sendable (HTTPRequestHead) async -> HTTPAction
    func route(_ head: HTTPRequestHead) async -> HTTPAction { await handler(head) }
}

/// A configuration for 127.0.0.1 port 0, with `adjust` applied.
func testConfiguration(
    _ adjust: (inout HTTPServer.Configuration) -> Void = { _ in }
) -> HTTPServer.Configuration {
    var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0)
    adjust(&configuration)
    return configuration
}

/// Starts a server, runs `body` with its port, and shuts the server down.
func withServer(
    _ handler: @escaping @Sendable (HTTPRequestHead) async -> HTTPAction,
    configuration: HTTPServer.Configuration = testConfiguration(),
    body: (Int) async throws -> Void
) async throws {
    let server = HTTPServer(
        configuration: configuration, responder: ClosureResponder(handler: handler),
        logger: Logger(label: "http-test"))
    try server.start()
    defer { server.shutdown() }
    try await body(server.port)
}

/// Starts a server that forwards every request to `target`, and runs `body` with its port.
func withProxy(to target: ProxyTarget, body: (Int) async throws -> Void) async throws {
    try await withServer({ _ in .proxy(target) }, body: body)
}

/// Runs blocking socket or process work on its own thread, never on the cooperative pool
/// that the server's responders need.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await onNewThread(name: "http-test-client", body)
}

/// Runs curl with `arguments` and returns its standard output and exit status.
func curl(_ arguments: [String]) async throws -> CommandResult {
    try await blocking {
        try Command.runAllowingFailure("curl", ["-sS", "--max-time", "20"] + arguments)
    }
}

/// A response read from a raw socket.
struct RawResponse {
    var status: Int
    var head: String
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking TCP socket with a read buffer, used both as test client and as test upstream.
final class BlockingSocket {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32, timeoutSeconds: Int = 30) {
        self.fd = fd
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Connects to 127.0.0.1:`port`; `receiveBuffer` shrinks SO_RCVBUF before connecting.
    convenience init(port: Int, receiveBuffer: Int32? = nil) throws {
        self.init(fd: try connectLoopback(port: port, receiveBuffer: receiveBuffer))
    }

    func close() { Glibc.close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { throw TestFailure("send failed: errno \(errno)") }
            offset += n
        }
    }

    /// Reads more bytes into the buffer; returns false at end of file.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { return false }
        guard n > 0 else { throw TestFailure("recv failed or timed out: errno \(errno)") }
        buffer += chunk[0..<n]
        return true
    }

    /// Reads up to and including the blank line that ends a head.
    func readHead() throws -> String {
        while true {
            if let end = findHeadEnd() {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(end)
                return head
            }
            guard try fill() else { throw TestFailure("connection closed before a complete head") }
        }
    }

    private func findHeadEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13
            && buffer[index + 3] == 10
        {
            return index + 4
        }
        return nil
    }

    func readExactly(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else {
                throw TestFailure("connection closed after \(buffer.count) of \(count) bytes")
            }
        }
        let bytes = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return bytes
    }

    func readLine() throws -> String {
        while true {
            if let lf = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[0..<lf], as: UTF8.self)
                buffer.removeFirst(lf + 1)
                return line.hasSuffix("\r") ? String(line.dropLast()) : line
            }
            guard try fill() else { throw TestFailure("connection closed inside a line") }
        }
    }

    func readChunkedBody() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let sizeLine = try readLine()
            guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                throw TestFailure("invalid chunk size line \(sizeLine)")
            }
            if size == 0 {
                while try !readLine().isEmpty {}
                return body
            }
            body += try readExactly(size)
            _ = try readLine()
        }
    }

    /// Reads until the peer closes; returns everything read.
    func readToEnd() throws -> [UInt8] {
        while try fill() {}
        defer { buffer.removeAll() }
        return buffer
    }

    /// Whether the peer has closed the connection (a read returns end of file).
    func peerClosed() -> Bool {
        guard buffer.isEmpty else { return false }
        return (try? fill()) == false
    }

    /// Reads one response; `forHead` marks a response to HEAD, which has no body.
    func readResponse(forHead: Bool = false) throws -> RawResponse {
        let head = try readHead()
        let lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let parts = lines[0].split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw TestFailure("bad status line \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let pieces = line.split(separator: ":", maxSplits: 1)
            headers[pieces[0].lowercased()] =
                pieces.count > 1 ? pieces[1].trimmingCharacters(in: .whitespaces) : ""
        }
        var body: [UInt8] = []
        if forHead || status < 200 || status == 204 || status == 304 {
            body = []
        } else if headers["transfer-encoding"] == "chunked" {
            body = try readChunkedBody()
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            body = try readExactly(length)
        } else {
            body = try readToEnd()
        }
        return RawResponse(status: status, head: head, headers: headers, body: body)
    }
}

func connectLoopback(port: Int, receiveBuffer: Int32? = nil) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket failed: errno \(errno)") }
    if var size = receiveBuffer {
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let status = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard status == 0 else {
        let code = errno
        Glibc.close(fd)
        throw TestFailure("connect to 127.0.0.1:\(port) failed: errno \(code)")
    }
    return fd
}

/// A port on 127.0.0.1 that nothing listens on (bound once, then released).
func unusedPort() throws -> Int {
    let listener = try TestUpstream.listen()
    Glibc.close(listener.fd)
    return listener.port
}

/// Counts `onStart` and `onFinish` calls of a proxy target.
final class ExchangeCounter: Sendable {
    private let counts = Mutex((started: 0, finished: 0))
    var started: Int { counts.withLock { $0.started } }
    var finished: Int { counts.withLock { $0.finished } }
    func start() { counts.withLock { $0.started += 1 } }
    func finish() { counts.withLock { $0.finished += 1 } }

    /// Waits up to two seconds for `finished` to reach `count`.
    func waitForFinished(_ count: Int) async -> Bool {
        for _ in 0..<200 {
            if finished >= count { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}

/// A proxy target for 127.0.0.1:`port` whose unavailable page is a plain 502.
func proxyTarget(port: Int, counter: ExchangeCounter = ExchangeCounter()) -> ProxyTarget {
    ProxyTarget(
        connect: { try connectLoopback(port: port) },
        onStart: { counter.start() },
        onFinish: { counter.finish() },
        unavailable: { error in
            ErrorPage.response(
                status: 502, title: "Bad Gateway", message: "upstream unavailable", for: nil)
        })
}
