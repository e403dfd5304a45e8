import Testing

@testable import HTTPProxy

@Suite("Malformed requests")
struct MalformedRequestTests {
    static let cases: [(name: String, request: String, status: Int)] = [
        (
            "length with chunked",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            400
        ),
        (
            "repeated length",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400
        ),
        ("length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
        ("invalid length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400),
        (
            "chunked not last",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400
        ),
        (
            "chunked twice",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400
        ),
        (
            "unknown coding",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: x-custom, chunked\r\n\r\n", 501
        ),
        ("chunked in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("obsolete folding", "GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost: x\r\nX-A : one\r\n\r\n", 400),
        ("invalid name", "GET / HTTP/1.1\r\nHost: x\r\nX(A): one\r\n\r\n", 400),
        ("invalid method", "G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("control in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{1}b\r\n\r\n", 400),
        ("bare CR", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
        ("bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400),
        ("missing host", "GET / HTTP/1.1\r\n\r\n", 400),
        ("two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("invalid host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        ("userinfo in target", "GET http://user@x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("relative target", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("double space", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("bad version", "GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400),
        ("version 2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("version 1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
        ("connect", "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 501),
        (
            "long request line",
            "GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n", 414
        ),
        (
            "large headers",
            "GET / HTTP/1.1\r\nHost: x\r\n\(String(repeating: "X-Fill: \(String(repeating: "b", count: 1000))\r\n", count: 70))\r\n",
            431
        ),
        (
            "bad chunk size",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400
        ),
    ]

    @Test(arguments: cases.indices)
    func rejected(index: Int) async throws {
        let testCase = Self.cases[index]
        let handler: @Sendable (HTTPRequestHead) async -> HTTPAction = { _ in
            .readBody(limit: 100) { _, _ in HTTPResponse(status: 200) }
        }
        try await withServer(handler) { port in
            let response = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send(testCase.request)
                let response = try client.readResponse()
                return (response.status, response.headers["connection"], client.peerClosed())
            }
            #expect(response.0 == testCase.status, "\(testCase.name)")
            #expect(response.1 == "close", "\(testCase.name)")
            #expect(response.2, "\(testCase.name): connection still open")
        }
    }

    @Test func absoluteFormUsesTargetAuthority() async throws {
        try await withServer(echoHead) { port in
            let text = try await blocking {
                let client = try BlockingSocket(port: port)
                defer { client.close() }
                try client.send(
                    "GET http://Particle.Example:8080?q=1 HTTP/1.1\r\nHost: other\r\n\r\n")
                return try client.readResponse().text
            }
            #expect(text == "GET /?q=1 particle.example")
        }
    }
}
