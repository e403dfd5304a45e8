import Control
import Support

/// Runs gateway command lines for one account and maps errors to stderr and exit statuses.
public final class CommandRunner: Sendable {
    let control: Control
    let gateway: GatewayContext
    let logger: Logger

    public init(control: Control, gateway: GatewayContext, logger: Logger) {
        self.control = control
        self.gateway = gateway
        self.logger = logger
    }

    /// The maximum length of a command line, in bytes.
    static let maxCommandBytes = 64 << 10

    /// Makes `text` safe to print on one terminal line: control characters (escape sequences,
    /// newlines) from user input become `\u{...}` escapes.
    static func printable(_ text: String) -> String {
        var output = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                output += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    /// Runs `text` (everything after `ssh host`) and returns the exit status to send.
    func run(_ text: String, accountID: String, io: any CommandIO) -> Int32 {
        do {
            guard text.utf8.count <= Self.maxCommandBytes else {
                throw ControlError.invalidArgument(
                    "command line of \(text.utf8.count) bytes is too long; the limit is"
                        + " \(Self.maxCommandBytes) bytes")
            }
            var line = try CommandLine(parsing: text)
            // --json may come anywhere before `--`, also before the command name.
            let json = line.words.contains("--json")
            line.words.removeAll { $0 == "--json" }
            guard let name = line.words.first else {
                io.write(GatewayCommand.overview(gateway) + "\n")
                return 0
            }
            guard let command = GatewayCommand.named(name) else {
                throw ControlError.invalidArgument("unknown command '\(name)'; run `help` to list the commands")
            }
            let arguments = try Arguments(
                line.words.dropFirst(), rest: line.rest, valueOptions: command.valueOptions,
                knownFlags: command.flags, command: command.name)
            if line.rest != nil && command.name != "exec" {
                throw ControlError.invalidArgument("'--' is only used by exec; see `help \(command.name)`")
            }
            let context = CommandContext(
                control: control, gateway: gateway, accountID: accountID, io: io,
                json: json)
            logger.debug("command", ["account": accountID, "command": command.name])
            try command.run(arguments, context)
            return 0
        } catch let exit as CommandExit {
            return exit.status
        } catch let error as ControlError {
            io.writeError("error: \(Self.printable(error.message))\n")
            return CommandExitStatus(error.code).rawValue
        } catch {
            logger.error("command failed", ["account": accountID, "error": "\(error)"])
            io.writeError("error: internal error; see particled's log\n")
            return CommandExitStatus.internalError.rawValue
        }
    }
}
