import Control
import Testing

@testable import Gateway

@Suite struct CommandTableTests {
    static let gateway = GatewayContext(domain: "particle.localhost", httpPort: 8080, sshPort: 2222)

    @Test(arguments: GatewayCommand.all.map(\.name))
    func commandHasUsageAndExamples(name: String) throws {
        let command = try #require(GatewayCommand.named(name))
        #expect(command.usage.hasPrefix(name), "usage of \(name): \(command.usage)")
        #expect(!command.summary.isEmpty)
        #expect(!command.examples.isEmpty, "\(name) has no example")
        for example in command.examples where !example.hasPrefix(" ") {
            let first = String(example.split(separator: " ").first ?? "")
            #expect(
                GatewayCommand.named(first)?.name == name,
                "example '\(example)' does not run \(name)")
        }
        let help = command.helpText(Self.gateway)
        #expect(help.contains("usage: \(command.usage)"))
        for example in command.examples where !example.hasPrefix(" ") {
            #expect(help.contains("ssh -p 2222 localhost \(example)"))
        }
    }

    @Test func overviewListsEveryCommand() {
        let overview = GatewayCommand.overview(Self.gateway)
        for command in GatewayCommand.all {
            #expect(overview.contains("  \(command.usage)  "), "overview lacks \(command.name)")
        }
        for status in CommandExitStatus.allCases {
            #expect(overview.contains("  \(status.rawValue)  \(status.meaning)"))
        }
        #expect(overview.contains("ssh -p 2222 NAME@localhost"))
    }

    @Test func aliasesResolve() {
        #expect(GatewayCommand.named("list")?.name == "ls")
        #expect(GatewayCommand.named("rm")?.name == "delete")
        #expect(GatewayCommand.named("rotate-key")?.name == "api-key")
        #expect(GatewayCommand.named("nosuch") == nil)
    }

    @Test func shortFlagsParse() throws {
        let arguments = try Arguments(
            ["web", "-f", "--offset", "-5"], rest: nil, valueOptions: ["offset"],
            knownFlags: ["follow"], shortFlags: ["f": "follow"], command: "logs")
        #expect(arguments.positional == ["web"])
        #expect(arguments.flags == ["follow"])
        #expect(arguments.options == ["offset": "-5"])
    }

    @Test func unknownShortFlagFails() {
        #expect {
            try Arguments(["web", "-x"], rest: nil, shortFlags: ["f": "follow"], command: "logs")
        } throws: { error in
            (error as! ControlError).message == "unknown option -x for logs; see `help logs`"
        }
    }

    @Test func negativeNumberStaysPositional() throws {
        let arguments = try Arguments(["-500"], rest: nil, command: "topup")
        #expect(arguments.positional == ["-500"])
    }

    @Test(arguments: [
        (Int64(0), "$0.00"), (976, "$9.76"), (2500, "$25.00"), (-24, "-$0.24"), (5, "$0.05"),
        (-100_005, "-$1000.05"),
    ])
    func centsFormat(cents: Int64, expected: String) {
        #expect(formatCents(cents) == expected)
    }
}
