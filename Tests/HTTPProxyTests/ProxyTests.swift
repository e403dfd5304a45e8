import Foundation
import Glibc
import Synchronization
import Support
import Testing

@testable import HTTPProxy

/// Reads one request (head and Content-Length or chunked body) and returns its body.
func readRequest(_ socket: BlockingSocket, _ upstream: TestUpstream) throws -> (
    head: String, body: [UInt8]
) {
    let head = try upstream.readRequestHead(socket)
    if headerValue("transfer-encoding", in: head) == "chunked" {
        return (head, try socket.readChunkedBody())
    }
    let length = headerValue("content-length", in: head).flatMap { Int($0) } ?? 0
    return (head, try socket.readExactly(length))
}

/// An upstream that responds to each request with its method, body length and body.
func echoUpstream() throws -> TestUpstream {
    try TestUpstream { socket, upstream in
        let (head, body) = try readRequest(socket, upstream)
        let method = head.split(separator: " ")[0]
        let text = Array("\(method) \(body.count) ".utf8) + body
        try socket.send(
            "HTTP/1.1 200 OK\r\nContent-Length: \(text.count)\r\nKeep-Alive: timeout=5\r\nX-Upstream: yes\r\n\r\n"
        )
        try socket.send(text)
    }
}

@Suite("Reverse proxy")
struct ProxyTests {
    @Test func getForwardsAndRewritesHeaders() async throws {
        let upstream = try echoUpstream()
        defer { upstream.stop() }
        let counter = ExchangeCounter()
        try await withProxy(to: proxyTarget(port: upstream.port, counter: counter)) {
            port in
            let response = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send(
                    "GET /page?x=1 HTTP/1.1\r\nHost: app.example:8080\r\nConnection: keep-alive, X-Secret\r\n"
                        + "X-Secret: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\n"
                        + "X-Forwarded-For: 6.6.6.6\r\nX-Kept: yes\r\n\r\n")
                return try client.readResponse()
            }
            #expect(response.status == 200)
            #expect(response.text == "GET 0 ")
            #expect(response.headers["x-upstream"] == "yes")
            #expect(response.headers["keep-alive"] == nil)

            let head = try #require(upstream.requestHeads.first)
            #expect(head.hasPrefix("GET /page?x=1 HTTP/1.1\r\n"))
            #expect(headerValue("host", in: head) == "app.example:8080")
            #expect(headerValue("x-kept", in: head) == "yes")
            #expect(headerValue("x-forwarded-for", in: head) == "127.0.0.1")
            #expect(headerValue("x-forwarded-proto", in: head) == "http")
            #expect(headerValue("x-forwarded-host", in: head) == "app.example:8080")
            #expect(
                headerValue("forwarded", in: head)
                    == "for=127.0.0.1;host=\"app.example:8080\";proto=http")
            #expect(headerValue("via", in: head) == "1.1 particle")
            for name in ["x-secret", "keep-alive", "te", "proxy-authorization"] {
                #expect(headerValue(name, in: head) == nil, "\(name) was forwarded")
            }
            #expect(await counter.waitForFinished(1))
            #expect(counter.started == 1)
        }
    }

    @Test func postContentLengthAndChunked() async throws {
        let upstream = try echoUpstream()
        defer { upstream.stop() }
        try await withProxy(to: proxyTarget(port: upstream.port)) { port in
            let plain = try await curl(["--data-binary", "name=web", "http://127.0.0.1:\(port)/"])
            #expect(plain.output == "POST 8 name=web")
            let chunked = try await curl([
                "-H", "Transfer-Encoding: chunked", "--data-binary", "streamed body",
                "http://127.0.0.1:\(port)/",
            ])
            #expect(chunked.output == "POST 13 streamed body")
            let heads = upstream.requestHeads
            #expect(heads.count == 2)
            #expect(heads.first.flatMap { headerValue("content-length", in: $0) } == "8")
            #expect(heads.last.flatMap { headerValue("transfer-encoding", in: $0) } == "chunked")
        }
    }

    @Test func largeResponseStreams() async throws {
        let size = 20 << 20
        let upstream = try TestUpstream { socket, upstream in
            _ = try readRequest(socket, upstream)
            try socket.send("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n")
            try sendPattern(socket, count: size)
        }
        defer { upstream.stop() }
        try await withProxy(to: proxyTarget(port: upstream.port)) { port in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent(
                "http-\(UUID()).bin")
            defer { try? FileManager.default.removeItem(at: file) }
            let result = try await curl([
                "-o", file.path, "-w", "%{http_code}", "http://127.0.0.1:\(port)/big",
            ])
            #expect(result.output == "200")
            let data = try Data(contentsOf: file)
            #expect(data.count == size)
            #expect(isPattern(data))
        }
    }

    @Test func slowClientPausesUpstream() async throws {
        let size = 64 << 20
        let written = Mutex(0)
        let upstream = try TestUpstream { socket, upstream in
            _ = try readRequest(socket, upstream)
            var small: Int32 = 64 * 1024
            _ = setsockopt(
                socket.fd, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            try socket.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = [UInt8](repeating: 0x61, count: 1 << 16)
            while written.withLock({ $0 }) < size {
                try socket.send(Array("10000\r\n".utf8) + chunk + [13, 10])
                written.withLock { $0 += chunk.count }
            }
            try socket.send("0\r\n\r\n")
        }
        defer { upstream.stop() }
        try await withProxy(to: proxyTarget(port: upstream.port)) { port in
            let (sentWhilePaused, response) = try await blocking {
                let client = try BlockingSocket(port: port, receiveBuffer: 64 * 1024)
                defer { client.close() }
                try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                Thread.sleep(forTimeInterval: 1)
                return (written.withLock { $0 }, try client.readResponse())
            }
            // Loopback kernel buffers can take several MiB, and the proxy adds at most its
            // high-water mark. Without backpressure the upstream writes all 64 MiB at once.
            #expect(sentWhilePaused < size / 2, "upstream wrote \(sentWhilePaused) bytes")
            #expect(response.status == 200)
            #expect(response.body.count == size)
        }
    }

    @Test func headHasNoBody() async throws {
        let upstream = try TestUpstream { socket, upstream in
            _ = try readRequest(socket, upstream)
            try socket.send(
                "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n")
        }
        defer { upstream.stop() }
        try await withProxy(to: proxyTarget(port: upstream.port)) { port in
            let result = try await curl(["-I", "http://127.0.0.1:\(port)/file"])
            #expect(result.status == 0)
            #expect(result.output.contains("Content-Length: 1000"))
        }
    }

    @Test func keepAliveAcrossFramings() async throws {
        let upstream = try TestUpstream { socket, upstream in
            let (head, _) = try readRequest(socket, upstream)
            if head.hasPrefix("GET /chunked ") {
                try socket.send(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            } else if head.hasPrefix("GET /close ") {
                try socket.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close")
            } else {
                try socket.send("HTTP/1.1 204 No Content\r\n\r\n")
            }
        }
        defer { upstream.stop() }
        let counter = ExchangeCounter()
        try await withProxy(to: proxyTarget(port: upstream.port, counter: counter)) {
            port in
            let responses = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                var responses: [RawResponse] = []
                for path in ["/chunked", "/close", "/empty"] {
                    try client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                    responses.append(try client.readResponse())
                }
                let old = try BlockingSocket(port: port)
                defer { old.close() }
                try old.send("GET /close HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                responses.append(try old.readResponse())
                return responses
            }
            #expect(responses[0].text == "hello")
            #expect(responses[1].headers["transfer-encoding"] == "chunked")
            #expect(responses[1].text == "until close")
            #expect(responses[2].status == 204)
            #expect(responses[3].headers["connection"] == "close")
            #expect(responses[3].text == "until close")
            #expect(upstream.requestHeads.count == 4)
            #expect(await counter.waitForFinished(4))
        }
    }

    @Test func refusedUpstreamGets502() async throws {
        let port = try unusedPort()
        let counter = ExchangeCounter()
        try await withProxy(to: proxyTarget(port: port, counter: counter)) {
            serverPort in
            let result = try await curl(["-w", "\n%{http_code}", "http://127.0.0.1:\(serverPort)/"])
            #expect(result.output == "502 Bad Gateway: upstream unavailable\n\n502")
            #expect(await counter.waitForFinished(1))
            #expect(counter.started == 1)
        }
    }

    @Test func invalidUpstreamResponseGets502() async throws {
        let upstream = try TestUpstream { socket, upstream in
            _ = try readRequest(socket, upstream)
            try socket.send(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello")
        }
        defer { upstream.stop() }
        try await withProxy(to: proxyTarget(port: upstream.port)) { port in
            let result = try await curl([
                "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/",
            ])
            #expect(result.output == "502")
        }
    }

    @Test func silentUpstreamTimesOut() async throws {
        // The upstream holds the connection open until the test ends, so only the proxy's
        // upstream timeout can end the exchange.
        let release = DispatchSemaphore(value: 0)
        let upstream = try TestUpstream { socket, upstream in
            _ = try readRequest(socket, upstream)
            _ = release.wait(timeout: .now() + 120)
        }
        defer {
            release.signal()
            upstream.stop()
        }
        let counter = ExchangeCounter()
        let reasons = Locked<[ProxyError.Code]>([])
        let configuration = testConfiguration { $0.upstreamTimeout = .milliseconds(300) }
        var target = proxyTarget(port: upstream.port, counter: counter)
        target.unavailable = { error in
            reasons.withLock { $0.append((error as? ProxyError)?.code ?? .connectionLost) }
            return ErrorPage.response(status: 504, title: "Timed out", message: "upstream timed out", for: nil)
        }
        let handler: @Sendable (HTTPRequestHead) async -> HTTPAction = { [target] _ in .proxy(target) }
        try await withServer(handler, configuration: configuration) { port in
            let result = try await curl([
                "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "60", "http://127.0.0.1:\(port)/",
            ])
            #expect(result.output == "504")
            #expect(reasons.value == [.timedOut])
            #expect(await counter.waitForFinished(1))
        }
    }

    @Test func truncatedUpstreamBodyAborts() async throws {
        let upstream = try TestUpstream { socket, upstream in
            _ = try readRequest(socket, upstream)
            try socket.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        }
        defer { upstream.stop() }
        try await withProxy(to: proxyTarget(port: upstream.port)) { port in
            let result = try await curl(["http://127.0.0.1:\(port)/"])
            // curl exits with 18 (partial file) when the connection closes inside the body.
            #expect(result.status == 18)
            #expect(result.output == "only ten b")
        }
    }

    @Test func upgradeTunnelEchoes() async throws {
        let upstream = try TestUpstream { socket, upstream in
            let head = try upstream.readRequestHead(socket)
            guard headerValue("upgrade", in: head) == "websocket" else {
                try socket.send("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return
            }
            try socket.send(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            )
            while true {
                let bytes = try socket.readExactly(4)
                try socket.send(bytes)
            }
        }
        defer { upstream.stop() }
        let counter = ExchangeCounter()
        try await withProxy(to: proxyTarget(port: upstream.port, counter: counter)) {
            port in
            let (response, echoes) = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send(
                    "GET /socket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nping"
                )
                let response = try client.readResponse(forHead: true)
                let first = String(decoding: try client.readExactly(4), as: UTF8.self)
                try client.send("pong")
                return (
                    response, [first, String(decoding: try client.readExactly(4), as: UTF8.self)]
                )
            }
            #expect(response.status == 101)
            #expect(response.headers["upgrade"] == "websocket")
            #expect(response.headers["connection"] == "upgrade")
            #expect(echoes == ["ping", "pong"])
            #expect(await counter.waitForFinished(1))
        }
    }
}

/// Sends `count` bytes of the repeating pattern 0, 1, ..., 250.
func sendPattern(_ socket: BlockingSocket, count: Int) throws {
    let block = (0..<(251 * 1024)).map { UInt8($0 % 251) }
    var sent = 0
    while sent < count {
        let piece = min(block.count, count - sent)
        try socket.send(Array(block[0..<piece]))
        sent += piece
    }
}

func isPattern(_ data: Data) -> Bool {
    data.withUnsafeBytes { bytes in
        var expected: UInt8 = 0
        for byte in bytes {
            if byte != expected { return false }
            expected = expected == 250 ? 0 : expected + 1
        }
        return true
    }
}
