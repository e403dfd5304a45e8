import Foundation
import COpenSSL

/// Random lowercase hexadecimal identifiers, drawn from OpenSSL's CSPRNG.
enum RandomID {
    /// Returns `length` random lowercase hex characters.
    static func hex(_ length: Int) -> String {
        let bytes = randomBytes((length + 1) / 2)
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        return String(hex.prefix(length))
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let ok = RAND_bytes(&bytes, Int32(count))
        precondition(ok == 1, "OpenSSL RAND_bytes failed; the process cannot make secure ids")
        return bytes
    }
}
