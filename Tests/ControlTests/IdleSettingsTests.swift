import Foundation
import Testing

@testable import Control

@Suite struct IdleSettingsTests {
    @Test func timeouts() throws {
        #expect(try IdleSettings.parseTimeout("30s") == 30)
        #expect(try IdleSettings.parseTimeout("5m") == 300)
        #expect(try IdleSettings.parseTimeout("24h") == 86_400)
        #expect(try IdleSettings.parseTimeout("90") == 90)
        for bad in ["29s", "25h", "0", "abc", "-5m", ""] {
            #expect(throws: ControlError.self, "\(bad)") { try IdleSettings.parseTimeout(bad) }
        }
    }

    @Test func scheduleWindows() throws {
        let schedule = try WeeklySchedule(parsing: "mon-fri 08:00-19:00 Europe/Berlin")
        #expect(schedule.windows == [.init(days: [1, 2, 3, 4, 5], start: 480, end: 1140)])
        // 2026-12-07 is a Monday; 08:30 in Berlin (winter, UTC+1) is 07:30 UTC.
        #expect(schedule.contains(date("2026-12-07T07:30:00Z")))
        #expect(!schedule.contains(date("2026-12-07T06:30:00Z")))
        #expect(!schedule.contains(date("2026-12-05T10:00:00Z")))
    }

    @Test func scheduleAcrossMidnight() throws {
        let schedule = try WeeklySchedule(parsing: "fri,sat 22:00-02:00")
        #expect(schedule.timeZone.secondsFromGMT() == 0)
        #expect(schedule.contains(date("2026-12-04T23:00:00Z")))
        #expect(schedule.contains(date("2026-12-05T01:00:00Z")))
        #expect(schedule.contains(date("2026-12-06T01:00:00Z")))
        #expect(!schedule.contains(date("2026-12-07T01:00:00Z")))
    }

    @Test func severalWindowsAndWrap() throws {
        let schedule = try WeeklySchedule(parsing: "sat-mon 10:00-12:00; wed 00:00-24:00")
        #expect(schedule.windows[0].days == [6, 7, 1])
        #expect(schedule.windows[1].end == 1440)
    }

    @Test func nextOpenings() throws {
        // 2026-12-04 is a Friday; Berlin is UTC+1 in winter and UTC+2 in summer.
        let weekdays = try WeeklySchedule(parsing: "mon-fri 08:00-19:00 Europe/Berlin")
        #expect(weekdays.nextOpening(after: date("2026-12-04T06:00:00Z")) == date("2026-12-04T07:00:00Z"))
        #expect(weekdays.nextOpening(after: date("2026-12-04T07:00:00Z")) == date("2026-12-07T07:00:00Z"))
        #expect(weekdays.nextOpening(after: date("2026-12-04T12:00:00Z")) == date("2026-12-07T07:00:00Z"))
        // Across the change to summer time on Sunday 2026-03-29.
        #expect(weekdays.nextOpening(after: date("2026-03-27T20:00:00Z")) == date("2026-03-30T06:00:00Z"))

        // Windows that follow each other open once; a window across midnight opens the evening before.
        let adjacent = try WeeklySchedule(parsing: "mon 08:00-12:00; mon 12:00-14:00; tue 22:00-02:00")
        #expect(adjacent.nextOpening(after: date("2026-12-07T09:00:00Z")) == date("2026-12-08T22:00:00Z"))
        #expect(adjacent.nextOpening(after: date("2026-12-06T09:00:00Z")) == date("2026-12-07T08:00:00Z"))

        // A window that never closes never opens.
        let always = try WeeklySchedule(parsing: "mon-sun 00:00-24:00")
        #expect(always.nextOpening(after: date("2026-12-04T12:00:00Z")) == nil)
    }

    @Test(arguments: [
        ("mon-fri 08:00-19:00 Mars/Base", "unknown time zone 'Mars/Base'"),
        ("mon-fri 8:00-19:00", "invalid hours"),
        ("mon-fry 08:00-19:00", "invalid days"),
        ("08:00-19:00", "invalid schedule window"),
        ("", "missing schedule"),
        ("mon 10:00-10:00", "invalid hours"),
    ])
    func invalidSchedules(text: String, expected: String) {
        #expect {
            try WeeklySchedule(parsing: text)
        } throws: { error in
            (error as! ControlError).message.contains(expected)
        }
    }

    @Test func domains() throws {
        #expect(try Control.validateDomain("App.Example.com.", platformDomain: "particle.localhost") == "app.example.com")
        for bad in ["localhost", "a..b", "-a.com", "x.particle.localhost", "particle.localhost", "a_b.com"] {
            #expect(throws: ControlError.self, "\(bad)") {
                try Control.validateDomain(bad, platformDomain: "particle.localhost")
            }
        }
    }

    private func date(_ text: String) -> Date {
        try! Date(text, strategy: .iso8601)
    }
}
