/// A field of SSH wire-format data (RFC 4251 section 5) that failed to parse.
struct SSHWireError: Error, CustomStringConvertible, Sendable {
    var description: String
}

/// A cursor over SSH wire-format data that checks every length against the bytes left.
///
/// Each read names its field, so a failure reads like "the namespace field is truncated".
/// No read allocates more than the input already contains.
struct SSHWireReader {
    private let bytes: [UInt8]
    private var offset: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    /// Whether every byte has been read.
    var isAtEnd: Bool { offset == bytes.count }

    /// Reads `count` raw bytes.
    mutating func readBytes(_ count: Int, field: String) throws(SSHWireError) -> [UInt8] {
        guard count >= 0, count <= bytes.count - offset else {
            throw SSHWireError(description: "the \(field) field is truncated")
        }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// Reads a big-endian `uint32`.
    mutating func readUInt32(field: String) throws(SSHWireError) -> UInt32 {
        let word = try readBytes(4, field: field)
        return word.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Reads a `string`: a `uint32` length, then that many bytes.
    mutating func readString(field: String) throws(SSHWireError) -> [UInt8] {
        let length = try readUInt32(field: field)
        return try readBytes(Int(length), field: field)
    }

    /// Reads a `string` that holds a name, such as an algorithm, and requires it to be UTF-8.
    mutating func readName(field: String) throws(SSHWireError) -> String {
        let value = try readString(field: field)
        guard let name = String(validating: value, as: UTF8.self) else {
            throw SSHWireError(description: "the \(field) field is not valid UTF-8")
        }
        return name
    }

    /// Reads a non-negative `mpint` and returns its magnitude, big-endian, without leading zeros.
    ///
    /// Rejects negative values and magnitudes longer than `maxBytes`, and trims leading zero
    /// bytes, as OpenSSH's `sshbuf_get_bignum2_bytes_direct` does.
    mutating func readPositiveMPInt(field: String, maxBytes: Int) throws(SSHWireError) -> [UInt8] {
        let value = try readString(field: field)
        if let first = value.first, first & 0x80 != 0 {
            throw SSHWireError(description: "the \(field) field is negative")
        }
        let magnitude = Array(value.drop { $0 == 0 })
        guard magnitude.count <= maxBytes else {
            throw SSHWireError(
                description: "the \(field) field is \(magnitude.count) bytes, over \(maxBytes)")
        }
        return magnitude
    }

    /// Requires that nothing follows the last field of `structure`.
    func expectEnd(of structure: String) throws(SSHWireError) {
        let extra = bytes.count - offset
        guard extra == 0 else {
            let unit = extra == 1 ? "byte" : "bytes"
            throw SSHWireError(
                description: "\(extra) unexpected \(unit) at the end of the \(structure)")
        }
    }
}
