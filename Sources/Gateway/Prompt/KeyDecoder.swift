/// A key press read from a terminal in raw mode.
enum Key: Equatable {
    case character(Character)
    case enter
    case backspace
    case delete
    case left
    case right
    case wordLeft
    case wordRight
    case home
    case end
    case up
    case down
    /// Ctrl-U: delete from the start of the line to the cursor.
    case deleteToStart
    /// Ctrl-K: delete from the cursor to the end of the line.
    case deleteToEnd
    /// Ctrl-W: delete the word before the cursor.
    case deleteWordBackward
    /// Ctrl-C.
    case interrupt
    /// Ctrl-D.
    case endOfFile
    /// Ctrl-L.
    case clearScreen
    /// Tab.
    case complete
}

/// Turns the bytes a terminal sends (UTF-8 text, control characters and the ANSI escape
/// sequences of xterm-like terminals) into keys.
///
/// A sequence split across reads is kept until its remaining bytes arrive. Unknown escape
/// sequences and control characters are dropped.
struct KeyDecoder {
    private var pending: [UInt8] = []
    /// Whether the last byte was a carriage return, so that the line feed of a CR LF pair is
    /// not read as a second Enter.
    private var afterCarriageReturn = false

    /// Decodes `bytes` after whatever an earlier call left incomplete.
    mutating func decode(_ bytes: [UInt8]) -> [Key] {
        pending += bytes
        var keys: [Key] = []
        var index = 0
        while index < pending.count {
            guard let (key, length) = Self.decodeOne(pending[index...]) else { break }
            index += length
            if key == .enter && pending[index - 1] == 0x0A && afterCarriageReturn {
                afterCarriageReturn = false
                continue
            }
            afterCarriageReturn = pending[index - 1] == 0x0D
            if let key { keys.append(key) }
        }
        pending.removeFirst(index)
        return keys
    }

    /// Decodes the key at the start of `bytes`; returns nil when the bytes end in the middle of
    /// a sequence, and a nil key for a sequence that is dropped.
    private static func decodeOne(_ bytes: ArraySlice<UInt8>) -> (Key?, Int)? {
        let first = bytes[bytes.startIndex]
        switch first {
        case 0x1B:
            return decodeEscape(bytes)
        case 0x0D, 0x0A: return (.enter, 1)
        case 0x7F, 0x08: return (.backspace, 1)
        case 0x01: return (.home, 1)
        case 0x05: return (.end, 1)
        case 0x02: return (.left, 1)
        case 0x06: return (.right, 1)
        case 0x10: return (.up, 1)
        case 0x0E: return (.down, 1)
        case 0x15: return (.deleteToStart, 1)
        case 0x0B: return (.deleteToEnd, 1)
        case 0x17: return (.deleteWordBackward, 1)
        case 0x03: return (.interrupt, 1)
        case 0x04: return (.endOfFile, 1)
        case 0x0C: return (.clearScreen, 1)
        case 0x09: return (.complete, 1)
        case 0x00..<0x20: return (nil, 1)
        default: return decodeUTF8(bytes)
        }
    }

    private static func decodeUTF8(_ bytes: ArraySlice<UInt8>) -> (Key?, Int)? {
        let first = bytes[bytes.startIndex]
        let length: Int
        switch first {
        case 0x20..<0x80: length = 1
        case 0xC2..<0xE0: length = 2
        case 0xE0..<0xF0: length = 3
        case 0xF0..<0xF5: length = 4
        default: return (nil, 1)
        }
        guard bytes.count >= length else { return nil }
        let sequence = bytes.prefix(length)
        guard sequence.dropFirst().allSatisfy({ $0 & 0xC0 == 0x80 }),
            let text = String(validating: Array(sequence), as: UTF8.self), let character = text.first
        else { return (nil, 1) }
        return (.character(character), length)
    }

    /// Decodes ESC [ ... (CSI), ESC O x (SS3) and ESC b / ESC f (Alt-B, Alt-F).
    private static func decodeEscape(_ bytes: ArraySlice<UInt8>) -> (Key?, Int)? {
        guard bytes.count >= 2 else { return nil }
        let second = bytes[bytes.startIndex + 1]
        switch second {
        case UInt8(ascii: "["):
            return decodeControlSequence(bytes)
        case UInt8(ascii: "O"):
            guard bytes.count >= 3 else { return nil }
            return (finalKey(bytes[bytes.startIndex + 2], parameters: ""), 3)
        case UInt8(ascii: "b"): return (.wordLeft, 2)
        case UInt8(ascii: "f"): return (.wordRight, 2)
        default: return (nil, 2)
        }
    }

    private static func decodeControlSequence(_ bytes: ArraySlice<UInt8>) -> (Key?, Int)? {
        var index = bytes.startIndex + 2
        var parameters = ""
        while index < bytes.endIndex {
            let byte = bytes[index]
            // Parameter and intermediate bytes are 0x20-0x3F; the final byte is 0x40-0x7E.
            if (0x40...0x7E).contains(byte) {
                return (finalKey(byte, parameters: parameters), index - bytes.startIndex + 1)
            }
            guard (0x20...0x3F).contains(byte), parameters.count < 16 else {
                return (nil, index - bytes.startIndex + 1)
            }
            parameters.append(Character(UnicodeScalar(byte)))
            index += 1
        }
        return nil
    }

    private static func finalKey(_ byte: UInt8, parameters: String) -> Key? {
        // A modifier such as Ctrl (`1;5C`) turns the arrows into word moves.
        let modified = parameters.hasPrefix("1;")
        switch byte {
        case UInt8(ascii: "A"): return .up
        case UInt8(ascii: "B"): return .down
        case UInt8(ascii: "C"): return modified ? .wordRight : .right
        case UInt8(ascii: "D"): return modified ? .wordLeft : .left
        case UInt8(ascii: "H"): return .home
        case UInt8(ascii: "F"): return .end
        case UInt8(ascii: "~"):
            switch parameters {
            case "1", "7": return .home
            case "4", "8": return .end
            case "3": return .delete
            default: return nil
            }
        default: return nil
        }
    }
}
