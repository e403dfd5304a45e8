/// A rejected message head, with the status a server responds with.
struct HeadError: Error, Equatable, CustomStringConvertible {
    var status: Int
    var reason: String

    var description: String { "\(status) \(reason)" }

    static func badRequest(_ reason: String) -> HeadError {
        HeadError(status: 400, reason: reason)
    }
}

/// Byte classes from RFC 9110 §5.6.2 and RFC 9112.
enum HTTPSyntax {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A

    private static let tokenTable: [Bool] = (0..<256).map { value in
        let byte = UInt8(value)
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    static func isTokenByte(_ byte: UInt8) -> Bool { tokenTable[Int(byte)] }

    static func isToken(_ bytes: some Collection<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy(isTokenByte)
    }

    /// Returns whether `byte` may appear in a field value: VCHAR, obs-text, SP or HTAB.
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == space || byte == tab || (byte >= 0x21 && byte != 0x7F)
    }

    /// Parses a non-negative decimal number of at most 18 digits, which always fits in an Int.
    static func parseDecimal(_ text: some StringProtocol) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 18,
            text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Int(text)
    }
}

/// Finds the blank line that ends a message head, without rescanning bytes already checked.
///
/// It rejects a bare LF or bare CR as soon as it finds one, because a head whose lines end in a
/// bare LF would otherwise wait for a CRLF CRLF that never comes.
struct HeadScanner {
    enum Result: Equatable {
        /// The head's length including its final CRLF CRLF.
        case complete(Int)
        case incomplete
        case invalid(String)
    }

    private var scanned = 0

    mutating func scan(_ bytes: ArraySlice<UInt8>) -> Result {
        let base = bytes.startIndex
        var index = base + scanned
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == HTTPSyntax.cr {
                guard index + 1 < bytes.endIndex else { break }
                guard bytes[index + 1] == HTTPSyntax.lf else {
                    return .invalid("bare CR in message head")
                }
            } else if byte == HTTPSyntax.lf {
                guard index > base, bytes[index - 1] == HTTPSyntax.cr else {
                    return .invalid("line ends in a bare LF instead of CRLF")
                }
                if index - base >= 3, bytes[index - 2] == HTTPSyntax.lf {
                    scanned = 0
                    return .complete(index + 1 - base)
                }
            }
            index += 1
        }
        scanned = index - base
        return .incomplete
    }
}

/// Splitting a head into lines and field lines into names and values.
enum HeadParsing {
    /// Splits `head` (ending in CRLF CRLF) into its lines without their CRLF.
    ///
    /// Every line must end in CRLF: a bare LF or a CR anywhere else is rejected, so that the
    /// server and an upstream can never disagree about where a line ends.
    static func lines(of head: ArraySlice<UInt8>) throws(HeadError) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = head.startIndex
        var index = head.startIndex
        while index < head.endIndex {
            let byte = head[index]
            if byte == HTTPSyntax.cr {
                guard index + 1 < head.endIndex, head[index + 1] == HTTPSyntax.lf else {
                    throw .badRequest("bare CR in message head")
                }
                lines.append(head[lineStart..<index])
                index += 2
                lineStart = index
            } else if byte == HTTPSyntax.lf {
                throw .badRequest("line ends in a bare LF instead of CRLF")
            } else {
                index += 1
            }
        }
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    /// Parses one field line (`name: value`) and returns its name and value without OWS.
    static func field(_ line: ArraySlice<UInt8>) throws(HeadError) -> (String, String) {
        guard let first = line.first else { throw .badRequest("empty field line") }
        if first == HTTPSyntax.space || first == HTTPSyntax.tab {
            throw .badRequest("obsolete line folding in header field")
        }
        guard let colon = line.firstIndex(of: HTTPSyntax.colon) else {
            throw .badRequest("header field line without a colon")
        }
        let name = line[line.startIndex..<colon]
        if let last = name.last, last == HTTPSyntax.space || last == HTTPSyntax.tab {
            throw .badRequest("whitespace between header field name and colon")
        }
        guard HTTPSyntax.isToken(name) else {
            throw .badRequest("invalid character in header field name")
        }
        var value = line[(colon + 1)...]
        while let byte = value.first, byte == HTTPSyntax.space || byte == HTTPSyntax.tab {
            value.removeFirst()
        }
        while let byte = value.last, byte == HTTPSyntax.space || byte == HTTPSyntax.tab {
            value.removeLast()
        }
        guard value.allSatisfy(HTTPSyntax.isFieldValueByte) else {
            throw .badRequest("invalid character in header field value")
        }
        // NOTE: values must be UTF-8 because headers are Strings; other obs-text is rejected.
        guard let text = String(validating: value, as: UTF8.self) else {
            throw .badRequest("header field value is not valid UTF-8")
        }
        return (String(decoding: name, as: UTF8.self), text)
    }

    /// Parses every field line after the start line.
    static func headers(
        _ lines: ArraySlice<ArraySlice<UInt8>>, maxCount: Int
    ) throws(HeadError) -> HTTPHeaders {
        guard lines.count <= maxCount else {
            throw HeadError(status: 431, reason: "more than \(maxCount) header fields")
        }
        var headers = HTTPHeaders()
        for line in lines {
            let (name, value) = try field(line)
            headers.add(name: name, value: value)
        }
        return headers
    }

    /// Parses `HTTP/x.y`; returns nil when the text is not an HTTP version at all.
    static func version(_ bytes: ArraySlice<UInt8>) -> HTTPVersion? {
        let text = Array(bytes)
        guard text.count == 8, text[0..<5].elementsEqual("HTTP/".utf8),
            text[6] == UInt8(ascii: "."),
            let major = digit(text[5]), let minor = digit(text[7])
        else { return nil }
        return HTTPVersion(major: major, minor: minor)
    }

    private static func digit(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
    }
}
