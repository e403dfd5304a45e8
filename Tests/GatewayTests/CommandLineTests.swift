import Control
import Foundation
import Testing

@testable import Gateway

@Suite struct CommandLineTests {
    @Test func splitsLikeAShell() throws {
        let line = try CommandLine(parsing: #"create 'my app' "a b" c\ d --size p2"#)
        #expect(line.words == ["create", "my app", "a b", "c d", "--size", "p2"])
        #expect(line.rest == nil)
    }

    @Test func keepsExecCommandRaw() throws {
        let line = try CommandLine(parsing: #"exec web -- echo 'a  b' | wc -c"#)
        #expect(line.words == ["exec", "web"])
        #expect(line.rest == #"echo 'a  b' | wc -c"#)
        #expect(try CommandLine(parsing: "exec web --").rest == "")
    }

    @Test func emptyQuotedWordIsKept() throws {
        #expect(try CommandLine(parsing: "create ''").words == ["create", ""])
    }

    @Test func unterminatedQuoteFails() {
        #expect(throws: ControlError.self) { try CommandLine(parsing: "create 'web") }
    }

    @Test func optionsParse() throws {
        let arguments = try Arguments(
            ["web", "--size=p2", "--image", "debian-12", "--yes"], rest: nil,
            valueOptions: ["size", "image"], knownFlags: ["yes"], command: "create")
        #expect(arguments.positional == ["web"])
        #expect(arguments.options == ["size": "p2", "image": "debian-12"])
        #expect(arguments.flags == ["yes"])
    }

    /// The words that `ssh host idle web schedule --schedule 'mon-fri 08:00-19:00 Europe/Berlin'`
    /// reaches the gateway with, since OpenSSH joins its arguments with spaces.
    @Test(arguments: [
        ("idle web schedule --schedule mon-fri 08:00-19:00 Europe/Berlin", "mon-fri 08:00-19:00 Europe/Berlin"),
        ("idle web schedule --schedule 'mon-fri 08:00-19:00 Europe/Berlin'", "mon-fri 08:00-19:00 Europe/Berlin"),
        ("idle web schedule --schedule=mon-fri 08:00-19:00 UTC", "mon-fri 08:00-19:00 UTC"),
        ("idle web schedule --schedule mon-fri 08:00-19:00", "mon-fri 08:00-19:00"),
        ("idle web schedule --schedule mon-fri 08:00-12:00; sat,sun 10:00-14:00 Europe/Berlin",
         "mon-fri 08:00-12:00; sat,sun 10:00-14:00 Europe/Berlin"),
        ("idle web schedule --schedule mon-fri 08:00-12:00 ; sat 10:00-14:00", "mon-fri 08:00-12:00 ; sat 10:00-14:00"),
        ("idle --schedule mon-fri 08:00-19:00 web schedule", "mon-fri 08:00-19:00"),
        ("idle web schedule --schedule mon-fri 08:00-19:00 Europe/Berlin --timeout 5m", "mon-fri 08:00-19:00 Europe/Berlin"),
    ])
    func unquotedScheduleWords(line: String, schedule: String) throws {
        let words = try CommandLine(parsing: line).words
        let command = try #require(GatewayCommand.named("idle"))
        let arguments = try Arguments(
            words.dropFirst(), rest: nil, valueOptions: command.valueOptions,
            valueContinuations: command.valueContinuations, knownFlags: command.flags, command: "idle")
        #expect(arguments.options["schedule"] == schedule)
        #expect(arguments.positional == ["web", "schedule"])
        #expect(try WeeklySchedule(parsing: schedule).windows.isEmpty == false)
    }

    @Test func scheduleWordsStopAtGrammar() {
        // A misspelt zone with a slash is kept, so that parsing the schedule names it.
        #expect(WeeklySchedule.wordCount(continuing: "mon-fri", in: ["08:00-19:00", "Europe/Berlim", "web"]) == 2)
        #expect(WeeklySchedule.wordCount(continuing: "mon-fri", in: ["08:00-19:00", "web"]) == 1)
        #expect(WeeklySchedule.wordCount(continuing: "mon-fri", in: ["web", "08:00-19:00"]) == 0)
        #expect(WeeklySchedule.wordCount(continuing: "mon-fri 08:00-19:00", in: ["UTC"]) == 0)
        #expect(WeeklySchedule.wordCount(continuing: "08:00-19:00", in: ["UTC"]) == 0)
    }

    @Test(arguments: [
        (["--size", "p1", "--size", "p2"], "--size is given twice"),
        (["--size"], "missing value for --size"),
        (["--color"], "unknown option --color"),
    ])
    func badOptions(words: [String], expected: String) {
        #expect {
            try Arguments(words[...], rest: nil, valueOptions: ["size"], command: "create")
        } throws: { error in
            (error as! ControlError).message.contains(expected)
        }
    }

    @Test func printableEscapesControlCharacters() {
        #expect(CommandRunner.printable("bad \u{1b}[31mred\nline") == #"bad \u{1b}[31mred\u{a}line"#)
        #expect(CommandRunner.printable("plain é") == "plain é")
    }

    @Test func ambiguousNamesGetExplicitPortURLs() {
        let gateway = GatewayContext(domain: "particle.localhost", httpPort: 8080, sshPort: 2222)
        #expect(
            gateway.defaultURL(name: "web-8000", accountID: "aaaaaaaaaaaa", httpPort: 80)
                == "http://web-8000-80-aaaaaaaaaaaa.particle.localhost:8080/")
        #expect(
            gateway.defaultURL(name: "web", accountID: "aaaaaaaaaaaa", httpPort: 80)
                == "http://web-aaaaaaaaaaaa.particle.localhost:8080/")
    }
}
