import Foundation
import Testing

@testable import HTTPProxy

/// Echoes the method, target and host of each request as plain text.
let echoHead: @Sendable (HTTPRequestHead) async -> HTTPAction = { head in
    .respond(HTTPResponse(status: 200, text: "\(head.method) \(head.target) \(head.host)"))
}

@Suite("HTTP server")
struct ServerTests {
    @Test func getWithCurl() async throws {
        try await withServer(echoHead) { port in
            let result = try await curl(["-i", "http://127.0.0.1:\(port)/a/b?c=d"])
            #expect(result.status == 0)
            #expect(result.output.hasPrefix("HTTP/1.1 200 OK"))
            #expect(result.output.contains("Content-Length: 22"))
            #expect(result.output.contains("Date: "))
            #expect(result.output.hasSuffix("GET /a/b?c=d 127.0.0.1"))
        }
    }

    @Test func keepAliveReuse() async throws {
        try await withServer(echoHead) { port in
            let (first, second) = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send("GET /one HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n")
                let first = try client.readResponse()
                try client.send("GET /two HTTP/1.1\r\nHost: example.com\r\n\r\n")
                return (first, try client.readResponse())
            }
            #expect(first.text == "GET /one example.com")
            #expect(second.text == "GET /two example.com")
            #expect(first.headers["connection"] == nil)
        }
    }

    @Test func pipelinedRequestsInOrder() async throws {
        let delays = ["/slow": 200, "/medium": 50, "/fast": 0]
        let handler: @Sendable (HTTPRequestHead) async -> HTTPAction = { head in
            try? await Task.sleep(for: .milliseconds(delays[head.target] ?? 0))
            return .respond(HTTPResponse(status: 200, text: head.target))
        }
        try await withServer(handler) { port in
            let texts = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                var requests = ""
                for path in ["/slow", "/medium", "/fast"] {
                    requests += "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n"
                }
                try client.send(requests)
                return try (0..<3).map { _ in try client.readResponse().text }
            }
            #expect(texts == ["/slow", "/medium", "/fast"])
        }
    }

    @Test func http10WithoutKeepAlive() async throws {
        try await withServer(echoHead) { port in
            let (response, closed) = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send("GET /old HTTP/1.0\r\n\r\n")
                return (try client.readResponse(), client.peerClosed())
            }
            #expect(response.text == "GET /old ")
            #expect(response.headers["connection"] == "close")
            #expect(closed)
        }
    }

    @Test func http10WithKeepAlive() async throws {
        try await withServer(echoHead) { port in
            let (first, second, closed) = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let first = try client.readResponse()
                try client.send("GET /2 HTTP/1.0\r\n\r\n")
                return (first, try client.readResponse(), client.peerClosed())
            }
            #expect(first.headers["connection"] == "keep-alive")
            #expect(second.text == "GET /2 ")
            #expect(closed)
        }
    }

    @Test func connectionCloseHonoured() async throws {
        try await withServer(echoHead) { port in
            let (response, closed) = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return (try client.readResponse(), client.peerClosed())
            }
            #expect(response.status == 200)
            #expect(response.headers["connection"] == "close")
            #expect(closed)
        }
    }

    @Test func headResponseHasNoBody() async throws {
        try await withServer(echoHead) { port in
            let (head, get) = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send(
                    "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n")
                return (try client.readResponse(forHead: true), try client.readResponse())
            }
            #expect(head.headers["content-length"] == "9")
            #expect(get.text == "GET /g x")
        }
    }

    @Test func readBodyContentLengthAndChunked() async throws {
        let handler: @Sendable (HTTPRequestHead) async -> HTTPAction = { _ in
            .readBody(limit: 1 << 20) { head, body in
                HTTPResponse(
                    status: 200,
                    text: "\(head.method) \(body.count) \(String(decoding: body, as: UTF8.self))")
            }
        }
        try await withServer(handler) { port in
            let plain = try await curl([
                "--data-binary", "hello world", "http://127.0.0.1:\(port)/",
            ])
            #expect(plain.output == "POST 11 hello world")
            let chunked = try await curl([
                "-H", "Transfer-Encoding: chunked", "--data-binary", "chunky body",
                "http://127.0.0.1:\(port)/",
            ])
            #expect(chunked.output == "POST 11 chunky body")
            let raw = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send(
                    "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer-Field: t\r\n\r\n")
                return try client.readResponse().text
            }
            #expect(raw == "PUT 5 abcde")
        }
    }

    @Test func readBodyExpectContinue() async throws {
        let handler: @Sendable (HTTPRequestHead) async -> HTTPAction = { _ in
            .readBody(limit: 100) { _, body in HTTPResponse(status: 201, body: body) }
        }
        try await withServer(handler) { port in
            let (interim, final) = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send(
                    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
                )
                let interim = try client.readResponse()
                try client.send("data")
                return (interim, try client.readResponse())
            }
            #expect(interim.status == 100)
            #expect(final.status == 201)
            #expect(final.text == "data")
        }
    }

    @Test func readBodyOverLimit() async throws {
        let handled = ExchangeCounter()
        let handler: @Sendable (HTTPRequestHead) async -> HTTPAction = { _ in
            .readBody(limit: 10) { _, _ in
                handled.start()
                return HTTPResponse(status: 200)
            }
        }
        try await withServer(handler) { port in
            let declared = try await curl([
                "-o", "/dev/null", "-w", "%{http_code}", "--data-binary",
                String(repeating: "x", count: 11), "http://127.0.0.1:\(port)/",
            ])
            #expect(declared.output == "413")
            let response = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send(
                    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n"
                )
                return try client.readResponse()
            }
            #expect(response.status == 413)
            #expect(response.headers["connection"] == "close")
            #expect(handled.started == 0)
        }
    }

    @Test func headerTimeoutSends408() async throws {
        let configuration = testConfiguration { $0.headerTimeout = .milliseconds(300) }
        try await withServer(echoHead, configuration: configuration) { port in
            let (response, seconds, closed) = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                let started = Date()
                try client.send("GET / HTTP/1.1\r\nHost: x\r\n")
                let response = try client.readResponse()
                return (response, Date().timeIntervalSince(started), client.peerClosed())
            }
            #expect(response.status == 408)
            #expect(seconds >= 0.25)
            #expect(seconds < 10)
            #expect(closed)
        }
    }

    @Test func idleTimeoutCloses() async throws {
        let configuration = testConfiguration { $0.idleTimeout = .milliseconds(300) }
        try await withServer(echoHead, configuration: configuration) { port in
            let (status, closed, seconds) = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                let status = try client.readResponse().status
                let started = Date()
                return (status, client.peerClosed(), Date().timeIntervalSince(started))
            }
            #expect(status == 200)
            #expect(closed)
            #expect(seconds >= 0.2)
            #expect(seconds < 10)
        }
    }

    @Test func portTakenNamesAddress() async throws {
        try await withServer(echoHead) { port in
            let second = HTTPServer(
                configuration: .init(host: "127.0.0.1", port: port),
                responder: ClosureResponder(handler: echoHead), logger: .init(label: "http-test"))
            do {
                try second.start()
                second.shutdown()
                Issue.record("a second server started on a taken port")
            } catch let error as HTTPServerError {
                #expect(error.code == .addressInUse)
                #expect(error.description.contains("127.0.0.1:\(port)"))
            }
        }
    }

    @Test func errorPageFormats() {
        var head = HTTPRequestHead(method: "GET", target: "/")
        head.headers.add(name: "Accept", value: "text/html,application/xhtml+xml;q=0.9")
        let html = ErrorPage.response(
            status: 404, title: "Not Found", message: "no <particle>", for: head)
        #expect(html.headers["content-type"] == "text/html; charset=utf-8")
        #expect(String(decoding: html.body, as: UTF8.self).contains("no &lt;particle&gt;"))

        let plain = ErrorPage.response(status: 502, title: "Bad Gateway", message: "down", for: nil)
        #expect(plain.headers["content-type"] == "text/plain; charset=utf-8")
        #expect(String(decoding: plain.body, as: UTF8.self) == "502 Bad Gateway: down\n")

        head.headers.replaceOrAdd(name: "Accept", value: "text/html;q=0, */*")
        let refused = ErrorPage.response(status: 500, title: "Error", message: "x", for: head)
        #expect(refused.headers["content-type"] == "text/plain; charset=utf-8")
    }
}
