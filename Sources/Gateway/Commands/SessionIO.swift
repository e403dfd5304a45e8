import Foundation

/// Adapts an exec request's channel to what commands use.
final class SessionIO: CommandIO {
    let io: SSHCommandIO
    private var pending: [UInt8] = []
    /// Whether standard input has ended, after which waiting cannot read it.
    private var inputEnded = false

    init(_ io: SSHCommandIO) {
        self.io = io
    }

    func write(_ text: String) { _ = io.write(text) }
    func writeError(_ text: String) { _ = io.writeError(text) }
    func write(bytes: [UInt8]) { _ = io.write(bytes) }
    var isClosed: Bool { io.isClosed }

    func readLine() -> String? {
        while true {
            if let newline = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            guard let chunk = try? io.read(), !chunk.isEmpty else {
                defer { pending.removeAll() }
                return pending.isEmpty ? nil : String(decoding: pending, as: UTF8.self)
            }
            pending += chunk
        }
    }

    /// Reads standard input while waiting, so that a Ctrl-C typed into `ssh -t` (byte 0x03 on
    /// a terminal in raw mode) is seen. Without a terminal, Ctrl-C ends the client, which this
    /// sees as a hang-up.
    func waitForInterrupt(timeout: Duration) -> Bool {
        if inputEnded {
            Thread.sleep(forTimeInterval: Double(milliseconds(of: timeout)) / 1000)
            return io.isClosed
        }
        do {
            guard let chunk = try io.read(timeout: timeout) else {
                inputEnded = true
                return io.isClosed
            }
            return io.pseudoTerminal != nil && chunk.contains(0x03)
        } catch {
            return true
        }
    }
}

/// The standard streams of commands run at the interactive prompt, on a terminal in raw mode.
///
/// Output goes to the terminal as it is (`SSHCommandIO` turns "\n" into "\r\n"). Input lines,
/// such as the confirmation of `delete`, are echoed here, with Backspace; Ctrl-C or Ctrl-D
/// ends the input.
final class PromptIO: CommandIO {
    let io: SSHCommandIO
    /// Whether the last byte written ended a line, so that the prompt starts on a fresh one.
    private var atLineStart = true

    init(_ io: SSHCommandIO) {
        self.io = io
    }

    func write(_ text: String) { write(bytes: Array(text.utf8)) }

    func writeError(_ text: String) {
        guard let last = text.utf8.last else { return }
        atLineStart = last == 0x0A
        _ = io.writeError(text)
    }

    func write(bytes: [UInt8]) {
        guard let last = bytes.last else { return }
        atLineStart = last == 0x0A
        _ = io.write(bytes)
    }

    var isClosed: Bool { io.isClosed }

    /// Starts a new line unless the output already ended one.
    func endLine() {
        if !atLineStart { write("\n") }
    }

    func readLine() -> String? {
        var line: [UInt8] = []
        while let chunk = try? io.read() {
            for byte in chunk {
                switch byte {
                case 0x0D, 0x0A:
                    write("\n")
                    return String(decoding: line, as: UTF8.self)
                case 0x03, 0x04:
                    write("\n")
                    return nil
                case 0x7F, 0x08:
                    guard !line.isEmpty else { continue }
                    // Drop the whole last UTF-8 character, continuation bytes first.
                    while let last = line.popLast(), last & 0xC0 == 0x80 {}
                    write(bytes: [0x08, 0x20, 0x08])
                case 0x20...:
                    line.append(byte)
                    write(bytes: [byte])
                default:
                    continue
                }
            }
        }
        return nil
    }

    func waitForInterrupt(timeout: Duration) -> Bool {
        do {
            guard let chunk = try io.read(timeout: timeout) else { return true }
            return chunk.contains(0x03) || chunk.contains(0x04)
        } catch {
            return true
        }
    }
}
