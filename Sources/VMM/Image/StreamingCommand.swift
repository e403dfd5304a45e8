import Foundation
import Support

/// Runs a long external program and passes each line of its output to a callback as it comes.
///
/// `Command.run` returns output only after the program exits. mmdebstrap runs for about a
/// minute, and its `I: ...` lines are the build progress that the user sees meanwhile.
enum StreamingCommand {
    /// Runs `executable`, calling `onLine` for every line of standard output and standard error,
    /// and throws `StreamingCommandError` (with the last lines of output) if it exits non-zero.
    ///
    /// Blocks the calling thread until the program exits.
    static func run(
        _ executable: String, _ arguments: [String], onLine: @Sendable (String) -> Void
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Command.resolve(executable))
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()

        // Both streams share one pipe, so one reader drains them and no buffer fills up.
        var buffer = Data()
        var tail: [String] = []
        let reader = pipe.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                tail = Array((tail + [line]).suffix(5))
                onLine(line)
            }
        }
        if !buffer.isEmpty {
            let line = String(decoding: buffer, as: UTF8.self)
            tail = Array((tail + [line]).suffix(5))
            onLine(line)
        }
        process.waitUntilExit()

        guard process.terminationStatus == 0 else {
            throw StreamingCommandError(
                command: ([executable] + arguments).joined(separator: " "),
                status: process.terminationStatus, lastLines: tail)
        }
    }
}

/// A program run by `StreamingCommand` that exited non-zero, with its last lines of output.
struct StreamingCommandError: Error, CustomStringConvertible {
    var command: String
    var status: Int32
    var lastLines: [String]

    var description: String {
        let output = lastLines.suffix(3).joined(separator: " | ")
        return "command '\(command)' failed with status \(status)"
            + (output.isEmpty ? "" : ": \(output)")
    }
}
