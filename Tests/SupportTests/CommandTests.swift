import Foundation
import Testing

@testable import Support

@Suite struct CommandTests {
    @Test func runCapturesOutput() throws {
        let result = try Command.run("sh", ["-c", "echo out; echo err >&2"])
        #expect(result.output == "out\n")
        #expect(result.errorOutput == "err\n")
    }

    @Test func runThrowsOnFailure() {
        #expect(throws: CommandError.self) { try Command.run("sh", ["-c", "exit 3"]) }
    }

    @Test func missingProgramNamesIt() {
        do {
            try Command.run("particle-no-such-program", [])
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("particle-no-such-program"))
        }
    }

    @Test func blockingThreadRunsJobs() async throws {
        let thread = BlockingThread(name: "test")
        defer { thread.stop() }
        let value = try await thread.run { 6 * 7 }
        #expect(value == 42)
    }
}

@Suite struct CommandInputTests {
    @Test func largeInputAndOutputDoNotDeadlock() throws {
        // 4 MiB in and out: more than any pipe buffer, so writing it all first would hang.
        let input = Data(repeating: 0x61, count: 4 << 20)
        let result = try Command.run("cat", [], input: input)
        #expect(result.output.utf8.count == input.count)
    }
}
