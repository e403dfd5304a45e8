import Control
import Foundation
import Support

/// The prompt of `ssh -t host` without a command: reads lines with editing, history and
/// completion from the client's terminal and runs each as a gateway command.
///
/// The client's terminal is in raw mode, so this echoes every key itself.
final class InteractivePrompt {
    private let runner: CommandRunner
    private let identity: SSHIdentity
    private let io: SSHCommandIO
    private let output: PromptIO
    private var editor = LineEditor(prompt: "particle> ")
    private var decoder = KeyDecoder()

    init(runner: CommandRunner, identity: SSHIdentity, io: SSHCommandIO) {
        self.runner = runner
        self.identity = identity
        self.io = io
        self.output = PromptIO(io)
    }

    /// Runs until Ctrl-D on an empty line, `exit`, or a hang-up; returns the exit status of
    /// the last command.
    func run(banner: String) -> Int32 {
        var status: Int32 = 0
        output.write(banner)
        redraw()
        while let chunk = readInput() {
            for key in decoder.decode(chunk) {
                switch editor.handle(key) {
                case .redraw:
                    redraw()
                case .clearScreen:
                    output.write(bytes: Array("\u{1B}[H\u{1B}[2J".utf8))
                    redraw()
                case .complete:
                    complete()
                case .cancel:
                    output.write("^C\n")
                    redraw()
                case .exit:
                    output.write("\n")
                    return status
                case .submit(let line):
                    output.write("\n")
                    let trimmed = line.trimmingCharacters(in: .whitespaces)
                    if ["exit", "quit", "logout"].contains(trimmed) { return status }
                    if !trimmed.isEmpty { status = runCommand(trimmed) }
                    guard !io.isClosed else { return status }
                    output.endLine()
                    redraw()
                }
            }
        }
        return status
    }

    /// Reads the next chunk of keys; nil once the client sent EOF or hung up.
    private func readInput() -> [UInt8]? {
        do {
            return try io.read()
        } catch {
            return nil
        }
    }

    private func redraw() {
        // A client without a size (a pty of 0 columns, as from a script) gets 80.
        let columns = io.pseudoTerminal?.columns ?? 0
        output.write(bytes: editor.render(columns: columns > 0 ? columns : 80))
    }

    private func runCommand(_ line: String) -> Int32 {
        do {
            try runner.admitCommand(keyFingerprint: identity.keyFingerprint)
            try runner.runLine(line, accountID: identity.accountID, io: output)
            return 0
        } catch {
            return runner.report(error, accountID: identity.accountID, io: output)
        }
    }

    /// Completes the word before the cursor: a command name first, then a particle name
    /// where the command takes one. Several matches are completed to their common prefix, or
    /// listed when that adds nothing.
    private func complete() {
        let (start, word) = editor.wordBeforeCursor
        let candidates = completions(for: editor.wordsBeforeCursor).filter { $0.hasPrefix(word) }
        guard !candidates.isEmpty else { return redraw() }
        if candidates.count == 1 {
            editor.replace(from: start, with: candidates[0] + " ")
            return redraw()
        }
        let prefix = commonPrefix(candidates)
        if prefix.count > word.count {
            editor.replace(from: start, with: prefix)
        } else {
            output.write("\n" + candidates.joined(separator: "  ") + "\n")
        }
        redraw()
    }

    private func completions(for words: [String]) -> [String] {
        guard let first = words.first else {
            return GatewayCommand.all.map(\.name) + ["exit"]
        }
        let takesName: Set<String> = [
            "show", "status", "start", "stop", "delete", "rm", "exec", "logs", "duplicate",
            "rebuild", "rename", "resize", "port", "idle",
        ]
        let afterAction: Set<String> = ["snapshot", "domain"]
        let wantsName =
            (words.count == 1 && takesName.contains(first))
            || (words.count == 2 && afterAction.contains(first))
        guard wantsName else { return [] }
        let accountID = identity.accountID
        let control = runner.control
        let particles = try? blockingAwait { try await control.particles(accountID: accountID) }
        return (particles ?? []).map(\.name).sorted()
    }

    private func commonPrefix(_ words: [String]) -> String {
        guard var prefix = words.first else { return "" }
        for word in words.dropFirst() {
            while !word.hasPrefix(prefix) { prefix.removeLast() }
        }
        return prefix
    }
}
