import Control
import Foundation
import Support
import Synchronization

/// Runs gateway command lines for one account and maps errors to stderr and exit statuses.
public final class CommandRunner: Sendable {
    let control: Control
    private let context: Mutex<GatewayContext>
    let logger: Logger
    /// Commands per key: each exec request, each line run at the prompt and each particle
    /// shell or command counts as one.
    let commandLimiter: RateLimiter

    /// Creates a runner; `commandsPerMinute` is how many commands one SSH key may run per
    /// minute, with bursts of up to that many.
    public init(
        control: Control, gateway: GatewayContext, logger: Logger, commandsPerMinute: Int = 600
    ) {
        self.control = control
        self.context = Mutex(gateway)
        self.logger = logger
        self.commandLimiter = RateLimiter(capacity: max(1, commandsPerMinute), period: 60)
    }

    /// The public host, domain and ports that help texts and hints show.
    var gateway: GatewayContext { context.withLock { $0 } }

    /// Sets the SSH port that help texts show, once the server listens; for a configured
    /// port of 0, the kernel picks it only then.
    public func setSSHPort(_ port: Int) {
        context.withLock { $0.sshPort = port }
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

    /// Takes one command from the key's budget, or throws `rateLimited` naming the wait.
    func admitCommand(keyFingerprint: String) throws(ControlError) {
        guard let wait = commandLimiter.take(keyFingerprint) else { return }
        let seconds = max(1, Int(wait.rounded(.up)))
        logger.warning(
            "command rate limit reached",
            ["fingerprint": keyFingerprint, "limit_per_minute": String(commandLimiter.capacity)])
        throw ControlError.rateLimited(
            "too many commands for this key: the limit is \(commandLimiter.capacity) per minute;"
                + " try again in \(seconds) s",
            retryAfterSeconds: seconds)
    }

    /// Writes `error` as one line on stderr and returns its exit status.
    func report(_ error: any Error, accountID: String, io: any CommandIO) -> Int32 {
        switch error {
        case let exit as CommandExit:
            return exit.status
        case let error as ControlError:
            io.writeError("error: \(Self.printable(error.message))\n")
            return CommandExitStatus(error.code).rawValue
        default:
            logger.error("command failed", ["account": accountID, "error": "\(error)"])
            io.writeError("error: internal error; see particled's log\n")
            return CommandExitStatus.internalError.rawValue
        }
    }

    /// Runs `text` (everything after `ssh host`) and returns the exit status to send.
    func run(_ text: String, identity: SSHIdentity, io: any CommandIO) -> Int32 {
        do {
            try admitCommand(keyFingerprint: identity.keyFingerprint)
            try runLine(text, accountID: identity.accountID, user: identity.user, io: io)
            return 0
        } catch {
            return report(error, accountID: identity.accountID, io: io)
        }
    }

    /// Parses and runs one command line; throws what the command throws.
    ///
    /// `user` is the SSH user name when it could have named a particle, for the error of an
    /// unknown command (`ssh wbe@host uname`, where no particle is named `wbe`).
    func runLine(_ text: String, accountID: String, user: String? = nil, io: any CommandIO) throws {
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
            return
        }
        guard let command = GatewayCommand.named(name) else {
            var message = "unknown command '\(name)'; run `help` to list the commands"
            if let user, (try? ParticleName.validate(user)) != nil {
                message +=
                    "; no particle is named '\(user)' either, so `\(user)@` reached the gateway"
                    + " (`ls` lists your particles)"
            }
            throw ControlError.invalidArgument(message)
        }

        let arguments = try Arguments(
            line.words.dropFirst(), rest: line.rest, valueOptions: command.valueOptions,
            valueContinuations: command.valueContinuations, knownFlags: command.flags,
            shortFlags: command.shortFlags, command: command.name)
        if line.rest != nil && command.name != "exec" {
            throw ControlError.invalidArgument(
                "'--' is only used by exec; see `help \(command.name)`")
        }
        let context = CommandContext(
            control: control, gateway: gateway, accountID: accountID, io: io, json: json)
        logger.debug("command", ["account": accountID, "command": command.name])
        try command.run(arguments, context)
    }
}
