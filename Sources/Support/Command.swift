import Foundation
import Synchronization

/// The outcome of a finished command.
public struct CommandResult: Sendable {
    public var status: Int32
    public var output: String
    public var errorOutput: String
}

/// A failed external command, with what it printed on standard error.
public struct CommandError: Error, CustomStringConvertible, Sendable {
    public var command: String
    public var status: Int32
    public var errorOutput: String

    public var description: String {
        let detail = errorOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let lastLines = detail.split(separator: "\n").suffix(3).joined(separator: " | ")
        return "command '\(command)' failed with status \(status)"
            + (lastLines.isEmpty ? "" : ": \(lastLines)")
    }
}

/// Runs external programs such as `ip`, `qemu-img` and `mmdebstrap`.
///
/// These calls block the calling thread until the program exits: call them from a
/// `BlockingThread`, never from the cooperative pool.
public enum Command {
    /// Runs `executable` with `arguments` and returns its result, throwing if it exits non-zero.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], input: Data? = nil,
        environment: [String: String]? = nil
    ) throws -> CommandResult {
        let result = try runAllowingFailure(
            executable, arguments, input: input, environment: environment)
        guard result.status == 0 else {
            throw CommandError(
                command: ([executable] + arguments).joined(separator: " "), status: result.status,
                errorOutput: result.errorOutput)
        }
        return result
    }

    /// Runs `executable` and returns its result whatever its exit status.
    public static func runAllowingFailure(
        _ executable: String, _ arguments: [String], input: Data? = nil,
        environment: [String: String]? = nil
    ) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try resolve(executable))
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) {
                _, new in new
            }
        }
        let stdout = Pipe()
        let stderr = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            // Write from another thread, so that a program that writes output before it has read all
            // of its input cannot block on a full output pipe while this thread writes.
            let writer = stdin.fileHandleForWriting
            Thread.detachNewThread {
                try? writer.write(contentsOf: input)
                try? writer.close()
            }
        }

        // Drain both pipes concurrently so that a program with much output cannot block on a full pipe.
        let errorData = Mutex(Data())
        let errorDone = DispatchSemaphore(value: 0)
        let errorHandle = stderr.fileHandleForReading
        Thread.detachNewThread {
            let data = errorHandle.readDataToEndOfFile()
            errorData.withLock { $0 = data }
            errorDone.signal()
        }
        let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
        errorDone.wait()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            output: String(decoding: outputData, as: UTF8.self),
            errorOutput: String(decoding: errorData.withLock { $0 }, as: UTF8.self))
    }

    /// Finds `name` on `PATH` (plus the sbin folders, which root's tools live in).
    public static func resolve(_ name: String) throws -> String {
        if name.hasPrefix("/") { return name }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        for folder in folders where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
            return "\(folder)/\(name)"
        }
        throw CommandError(
            command: name, status: 127,
            errorOutput: "'\(name)' is not installed or not on PATH; run the README's setup command")
    }
}
