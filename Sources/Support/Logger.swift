import Foundation
import Synchronization

/// Severity of a log event, ordered from the most verbose to the most severe.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical

    public var name: String { String(describing: self) }

    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { $0.name == name }) else { return nil }
        self = level
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A structured logger that writes one `key=value` line per event to standard error.
///
/// Messages are constants; values go in the metadata so that lines can be searched by field.
/// Callers never pass keys, tokens or other secrets as metadata.
public struct Logger: Sendable {
    public let label: String
    public var metadata: [String: String]

    private static let minimumLevel = Mutex<LogLevel>(
        LogLevel(name: ProcessInfo.processInfo.environment["PARTICLE_LOG_LEVEL"] ?? "")
            ?? .info)
    private static let output = Mutex<Void>(())

    public init(label: String, metadata: [String: String] = [:]) {
        self.label = label
        self.metadata = metadata
    }

    /// The level below which events are dropped, shared by every logger in the process.
    public static var level: LogLevel {
        get { minimumLevel.withLock { $0 } }
        set { minimumLevel.withLock { $0 = newValue } }
    }

    /// Returns a copy of this logger that adds `fields` to every event.
    public func with(_ fields: [String: String]) -> Logger {
        var copy = self
        copy.metadata.merge(fields) { _, new in new }
        return copy
    }

    public func log(_ level: LogLevel, _ message: String, _ fields: [String: String] = [:]) {
        guard level >= Logger.level else { return }
        var line = "\(Logger.timestamp()) level=\(level.name) module=\(label) msg=\(quote(message))"
        let merged = metadata.merging(fields) { _, new in new }
        for key in merged.keys.sorted() {
            line += " \(key)=\(quote(merged[key]!))"
        }
        line += "\n"
        Logger.output.withLock { _ in
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    public func trace(_ message: String, _ fields: [String: String] = [:]) {
        log(.trace, message, fields)
    }
    public func debug(_ message: String, _ fields: [String: String] = [:]) {
        log(.debug, message, fields)
    }
    public func info(_ message: String, _ fields: [String: String] = [:]) {
        log(.info, message, fields)
    }
    public func notice(_ message: String, _ fields: [String: String] = [:]) {
        log(.notice, message, fields)
    }
    public func warning(_ message: String, _ fields: [String: String] = [:]) {
        log(.warning, message, fields)
    }
    public func error(_ message: String, _ fields: [String: String] = [:]) {
        log(.error, message, fields)
    }

    private func quote(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "\"" || $0 == "=" }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return needsQuotes ? "\"\(escaped)\"" : escaped
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &time)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", time.tm_year + 1900, time.tm_mon + 1,
            time.tm_mday, time.tm_hour, time.tm_min, time.tm_sec, Int(now.tv_nsec / 1_000_000))
    }
}
