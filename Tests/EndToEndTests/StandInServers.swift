import Foundation
import Support

/// A TCP server on 127.0.0.1 and a free port that hands each accepted connection to `handler`,
/// one at a time, on a thread of its own.
final class LoopbackServer: @unchecked Sendable {
    // `listener` is written only in init; `stop()` closes it once.
    let port: Int
    private let listener: Int32

    init(name: String, handler: @escaping @Sendable (LineConnection) -> Void) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        listener = descriptor
        guard descriptor >= 0 else { throw HarnessError("\(name): socket failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else {
            throw HarnessError("\(name): cannot listen on 127.0.0.1: errno \(errno)")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread {
            while true {
                let client = accept(descriptor, nil, nil)
                guard client >= 0 else { return }
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(
                    client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)
                )
                handler(LineConnection(descriptor: client))
                close(client)
            }
        }
        thread.name = name
        thread.start()
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

/// Buffered reads of CRLF-terminated lines and counted bodies from one socket.
final class LineConnection {
    let descriptor: Int32
    private var buffer: [UInt8] = []

    init(descriptor: Int32) { self.descriptor = descriptor }

    /// Returns the next line without its CRLF, or nil at end of stream.
    func readLine() -> String? {
        while true {
            if let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<end])
                buffer.removeFirst(end + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard fill() else { return nil }
        }
    }

    func read(count: Int) -> [UInt8] {
        while buffer.count < count, fill() {}
        let bytes = Array(buffer.prefix(count))
        buffer.removeFirst(bytes.count)
        return bytes
    }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, 0)
            }
            guard written > 0 else { return }
            sent += written
        }
    }

    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &chunk, chunk.count, 0)
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[..<count])
        return true
    }
}

/// A stand-in for Stripe's API that records each request and responds to every one with a new
/// Checkout Session.
final class StripeStandIn: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        var headers: [String: String]
        var body: String

        /// The decoded `application/x-www-form-urlencoded` fields of the body.
        var form: [String: String] {
            var fields: [String: String] = [:]
            for pair in body.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map {
                    $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
                }
                fields[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
            return fields
        }
    }

    let requests = Locked<[Request]>([])
    private let server = Locked<LoopbackServer?>(nil)

    var baseURL: String { "http://127.0.0.1:\(server.value?.port ?? 0)" }

    init() throws {
        let requests = self.requests
        server.value = try LoopbackServer(name: "stripe-stand-in") { connection in
            guard let requestLine = connection.readLine() else { return }
            var headers: [String: String] = [:]
            while let line = connection.readLine(), !line.isEmpty {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2 {
                    headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            let body = String(decoding: connection.read(count: length), as: UTF8.self)
            let words = requestLine.split(separator: " ")
            let number = requests.withLock { requests in
                requests.append(
                    Request(
                        method: String(words[0]), path: String(words[1]), headers: headers,
                        body: body))
                return requests.count
            }
            let json = """
                {"id": "cs_test_standin\(number)", "object": "checkout.session", \
                "url": "https://checkout.stripe.com/c/pay/cs_test_standin\(number)"}
                """
            connection.write(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n"
                    + "Connection: close\r\n\r\n" + json)
        }
    }

    func stop() { server.value?.stop() }
}

/// A minimal SMTP server (RFC 5321 without extensions) that keeps every message it receives.
final class SMTPStandIn: Sendable {
    struct Message: Sendable {
        var from: String
        var recipients: [String]
        var data: String
    }

    let messages = Locked<[Message]>([])
    private let server = Locked<LoopbackServer?>(nil)

    var url: String { "smtp://127.0.0.1:\(server.value?.port ?? 0)" }

    init() throws {
        let messages = self.messages
        server.value = try LoopbackServer(name: "smtp-stand-in") { connection in
            connection.write("220 standin ESMTP\r\n")
            var message = Message(from: "", recipients: [], data: "")
            while let line = connection.readLine() {
                let verb = line.prefix(4).uppercased()
                switch verb {
                case "EHLO", "HELO": connection.write("250 standin\r\n")
                case "MAIL":
                    message.from = String(line.dropFirst(10))
                    connection.write("250 OK\r\n")
                case "RCPT":
                    message.recipients.append(String(line.dropFirst(8)))
                    connection.write("250 OK\r\n")
                case "DATA":
                    connection.write("354 end with <CRLF>.<CRLF>\r\n")
                    var lines: [String] = []
                    while let dataLine = connection.readLine(), dataLine != "." {
                        lines.append(
                            dataLine.hasPrefix("..") ? String(dataLine.dropFirst()) : dataLine)
                    }
                    message.data = lines.joined(separator: "\n")
                    let received = message
                    messages.withLock { $0.append(received) }
                    connection.write("250 OK queued\r\n")
                case "QUIT":
                    connection.write("221 bye\r\n")
                    return
                case "RSET", "NOOP": connection.write("250 OK\r\n")
                default: connection.write("502 command not implemented\r\n")
                }
            }
        }
    }

    /// Waits up to `seconds` for at least `count` messages and returns all received.
    func waitForMessages(_ count: Int, seconds: Double = 15) -> [Message] {
        let deadline = Date().addingTimeInterval(seconds)
        while messages.value.count < count, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        return messages.value
    }

    func stop() { server.value?.stop() }
}
