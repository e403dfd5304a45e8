import Testing

@testable import HTTPProxy

@Suite("Parsers")
struct ParserTests {
    let limits = RequestParser.Limits(
        maxRequestLineBytes: 8192, maxHeaderBytes: 65536, maxHeaderCount: 100)

    @Test func requestArrivingByteByByte() throws {
        var parser = RequestParser(limits: limits)
        var buffer = ByteBuffer()
        let text =
            "\r\nPOST /x HTTP/1.1\r\nHost: [::1]:8080\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
        var parsed: ParsedRequest?
        for byte in text.utf8 {
            buffer.append(contentsOf: [byte])
            if case .request(let request) = parser.parse(&buffer, remoteAddress: "::1") {
                parsed = request
                break
            }
        }
        let request = try #require(parsed)
        #expect(request.head.host == "[::1]")
        #expect(request.hostField == "[::1]:8080")
        #expect(request.framing == .length(5))
        #expect(request.keepAlive == false)
        #expect(buffer.isEmpty)
    }

    @Test func requestPersistence() throws {
        let cases: [(String, Bool)] = [
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
            ("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n", false),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        ]
        for (text, keepAlive) in cases {
            var parser = RequestParser(limits: limits)
            var buffer = ByteBuffer()
            buffer.append(contentsOf: text.utf8)
            guard case .request(let request) = parser.parse(&buffer, remoteAddress: "127.0.0.1")
            else {
                Issue.record("not parsed: \(text)")
                continue
            }
            #expect(request.keepAlive == keepAlive, "\(text)")
        }
    }

    @Test func chunkedBodySplitAnywhere() throws {
        let wire = Array(
            "4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\nNEXT"
                .utf8)
        for split in 0...wire.count {
            var decoder = BodyDecoder(framing: .chunked)
            var buffer = ByteBuffer()
            var body: [UInt8] = []
            var ended = false
            for part in [wire[0..<split], wire[split...]] {
                buffer.append(contentsOf: part)
                while let event = try decoder.next(&buffer) {
                    guard case .data(let data) = event else {
                        ended = true
                        break
                    }
                    body += data
                }
            }
            #expect(ended, "split at \(split)")
            #expect(
                String(decoding: body, as: UTF8.self) == "Wikipedia in\r\n\r\nchunks.",
                "split at \(split)")
            #expect(String(decoding: buffer.readable, as: UTF8.self) == "NEXT", "split at \(split)")
        }
    }

    @Test func chunkedBodyRejectsMissingCRLF() {
        var decoder = BodyDecoder(framing: .chunked)
        var buffer = ByteBuffer()
        buffer.append(contentsOf: "3\r\nabcX\r\n".utf8)
        #expect(throws: HeadError.self) {
            while try decoder.next(&buffer) != nil {}
        }
    }

    @Test func responseFraming() throws {
        let cases: [(String, String, BodyFraming?)] = [
            ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", .length(3)),
            ("HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", BodyFraming.none),
            ("GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n", BodyFraming.none),
            ("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .chunked),
            ("GET", "HTTP/1.0 200 OK\r\n\r\n", .untilClose),
            ("GET", "HTTP/1.1 200\r\n\r\n", .untilClose),
            (
                "GET", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                nil
            ),
            ("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", nil),
            ("GET", "HTTP/2 200 OK\r\n\r\n", nil),
            ("GET", "HTTP/1.1 99 Low\r\n\r\n", nil),
        ]
        for (method, text, expected) in cases {
            var parser = ResponseParser(maxHeadBytes: 65536, maxHeaderCount: 100)
            var buffer = ByteBuffer()
            buffer.append(contentsOf: text.utf8)
            switch parser.parse(&buffer, requestMethod: method) {
            case .response(let response): #expect(response.framing == expected, "\(text)")
            case .error: #expect(expected == nil, "\(text)")
            case .needMore: Issue.record("incomplete: \(text)")
            }
        }
    }

    @Test func hopByHopRemoval() {
        var headers: HTTPHeaders = [
            "Connection": "X-A, host", "X-A": "1", "Host": "h", "Proxy-Connection": "k",
            "Upgrade": "websocket", "X-B": "2",
        ]
        ProxyHeaders.removeHopByHop(&headers, keepUpgrade: false)
        #expect(headers.fields.map(\.name) == ["Host", "X-B"])
    }
}
