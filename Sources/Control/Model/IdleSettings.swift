import Foundation

/// Limits and defaults of the idle policies.
public enum IdleSettings {
    public static let defaultTimeoutSeconds = 120
    public static let timeoutRange = 30...86_400

    /// Parses a timeout like `30s`, `5m`, `2h` or a plain number of seconds.
    public static func parseTimeout(_ text: String) throws(ControlError) -> Int {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600]
        var digits = Substring(text)
        var multiplier = 1
        if let last = text.last, let unit = units[last] {
            digits = digits.dropLast()
            multiplier = unit
        }
        guard let value = Int(digits), value > 0 else {
            throw .invalidArgument("invalid idle timeout '\(text)'; use seconds like 30s, 5m or 2h")
        }
        return try validateTimeout(value * multiplier)
    }

    @discardableResult
    public static func validateTimeout(_ seconds: Int) throws(ControlError) -> Int {
        guard timeoutRange.contains(seconds) else {
            throw .invalidArgument(
                "invalid idle timeout \(seconds) s; use 30 seconds to 24 hours (30-86400)")
        }
        return seconds
    }
}

/// The weekly windows of the `schedule` idle policy, like `mon-fri 08:00-19:00 Europe/Berlin`.
///
/// Several windows are separated by `;` and share the time zone at the end (UTC if none).
/// A window's end may be before its start to cross midnight.
public struct WeeklySchedule: Sendable, Equatable {
    public struct Window: Sendable, Equatable {
        /// Days as 1 (Monday) to 7 (Sunday).
        public var days: Set<Int>
        /// Minutes after midnight.
        public var start: Int
        public var end: Int
    }

    public var windows: [Window]
    public var timeZone: TimeZone

    static let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    static let example = "mon-fri 08:00-19:00 Europe/Berlin"

    public init(parsing text: String) throws(ControlError) {
        var tokens = text.split(whereSeparator: \.isWhitespace).map(String.init)
        var zone = TimeZone(identifier: "UTC")!
        // The last word is a time zone unless it is the hours of the last window.
        if let last = tokens.last, !last.contains(":") {
            guard let parsed = TimeZone(identifier: last) else {
                throw .invalidArgument(
                    "unknown time zone '\(last)' in schedule; use an IANA name like Europe/Berlin")
            }
            zone = parsed
            tokens.removeLast()
        }
        let groups = tokens.joined(separator: " ").split(separator: ";")
        guard !groups.isEmpty else {
            throw .invalidArgument("missing schedule; give weekly windows like '\(Self.example)'")
        }
        windows = try groups.map { group throws(ControlError) in try Self.window(String(group)) }
        timeZone = zone
    }

    /// Returns how many of `words` continue the schedule that starts with the word `first`,
    /// for a schedule typed without quotes and so split into words: more days and hours, `;`
    /// between windows and a final time zone. Returns 0 for a `first` that contains a space,
    /// which is a whole schedule that was quoted.
    ///
    /// A word is taken only where the grammar expects it: after hours comes a `;` or a time
    /// zone (an IANA name like Europe/Berlin), and a particle name or an option is neither.
    public static func wordCount(continuing first: String, in words: ArraySlice<String>) -> Int {
        guard !first.contains(where: \.isWhitespace) else { return 0 }
        var state = ScheduleWordState.days
        for part in Self.parts(of: first) {
            guard let next = state.after(part) else { return 0 }
            state = next
        }
        var count = 0
        for word in words {
            var next: ScheduleWordState? = state
            for part in Self.parts(of: word) {
                next = next?.after(part)
            }
            guard let next else { break }
            state = next
            count += 1
            if state == .done { break }
        }
        return count
    }

    /// Splits a word at `;`, keeping each `;` as a part of its own.
    private static func parts(of word: String) -> [String] {
        var parts: [String] = []
        var current = ""
        for character in word {
            if character == ";" {
                if !current.isEmpty { parts.append(current) }
                parts.append(";")
                current = ""
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { parts.append(current) }
        return parts
    }

    /// The part of a schedule that the next word may be, while `wordCount` reads it.
    private enum ScheduleWordState {
        case days, hours, afterHours, done

        /// Returns the state after `part`, or nil when `part` cannot come here.
        func after(_ part: String) -> ScheduleWordState? {
            switch self {
            case .days:
                return WeeklySchedule.isDays(part) ? .hours : nil
            case .hours:
                return WeeklySchedule.hours(part) != nil ? .afterHours : nil
            case .afterHours:
                if part == ";" { return .days }
                return WeeklySchedule.isTimeZone(part) ? .done : nil
            case .done:
                return nil
            }
        }
    }

    /// Returns whether `text` is a list of days like `mon-fri` or `sat,sun`.
    private static func isDays(_ text: String) -> Bool {
        let items = text.lowercased().split(separator: ",", omittingEmptySubsequences: false)
        return !items.isEmpty && items.allSatisfy { item in
            let ends = item.split(separator: "-", omittingEmptySubsequences: false)
            return (1...2).contains(ends.count) && ends.allSatisfy { dayNames.contains(String($0)) }
        }
    }

    /// Returns whether `text` names a time zone. Particle names never contain a `/`, so a name
    /// with one is taken for a zone even when it is misspelt, and parsing then reports it.
    private static func isTimeZone(_ text: String) -> Bool {
        !text.hasPrefix("-") && (text.contains("/") || TimeZone(identifier: text) != nil)
    }

    /// Returns whether `date` falls inside one of the windows.
    public func contains(_ date: Date) -> Bool {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        let day = ((parts.weekday ?? 1) + 5) % 7 + 1
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        let previousDay = (day + 5) % 7 + 1
        return windows.contains { window in
            if window.start < window.end {
                return window.days.contains(day) && (window.start..<window.end).contains(minute)
            }
            // Crosses midnight: the evening part today or the morning part of the day after.
            return (window.days.contains(day) && minute >= window.start)
                || (window.days.contains(previousDay) && minute < window.end)
        }
    }

    /// Returns the first minute after `date` at which a window opens, that is a minute inside
    /// the windows after one outside them, within the next eight days. Returns nil for windows
    /// that never close.
    public func nextOpening(after date: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let today = calendar.startOfDay(for: date)
        var first: Date?
        for offset in 0...7 {
            guard let day = calendar.date(byAdding: .day, value: offset, to: today) else { continue }
            let weekday = (calendar.component(.weekday, from: day) + 5) % 7 + 1
            for window in windows where window.days.contains(weekday) && window.start < 24 * 60 {
                // In a gap of a daylight saving change, the calendar moves the start forward.
                guard
                    let start = calendar.date(
                        bySettingHour: window.start / 60, minute: window.start % 60, second: 0, of: day),
                    start > date, !contains(start.addingTimeInterval(-60))
                else { continue }
                if first.map({ start < $0 }) ?? true { first = start }
            }
        }
        return first
    }

    /// Parses `HH:MM-HH:MM` into minutes after midnight.
    private static func hours(_ text: String) -> (start: Int, end: Int)? {
        let times = text.split(separator: "-").map { minutes(String($0)) }
        guard times.count == 2, let start = times[0], let end = times[1], start != end else { return nil }
        return (start, end)
    }

    private static func window(_ text: String) throws(ControlError) -> Window {
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2 else {
            throw .invalidArgument("invalid schedule window '\(text)'; use days and hours like '\(example)'")
        }
        var days = Set<Int>()
        for item in parts[0].lowercased().split(separator: ",") {
            let ends = item.split(separator: "-").map { dayNames.firstIndex(of: String($0)) }
            guard (1...2).contains(ends.count), let first = ends.first!, let last = ends.last! else {
                throw .invalidArgument("invalid days '\(parts[0])' in schedule; use mon-fri, sat,sun or similar")
            }
            var index = first
            while true {
                days.insert(index + 1)
                if index == last { break }
                index = (index + 1) % 7
            }
        }
        guard let (start, end) = hours(String(parts[1])) else {
            throw .invalidArgument("invalid hours '\(parts[1])' in schedule; use HH:MM-HH:MM like 08:00-19:00")
        }
        return Window(days: days, start: start, end: end)
    }

    private static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
            let hour = Int(parts[0]), let minute = Int(parts[1]),
            (0...24).contains(hour), (0...59).contains(minute), hour * 60 + minute <= 1440
        else { return nil }
        return hour * 60 + minute
    }
}
