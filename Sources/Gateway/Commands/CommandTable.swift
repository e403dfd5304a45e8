import Control

/// One gateway command: its usage, help text and implementation.
struct GatewayCommand: Sendable {
    var name: String
    var usage: String
    var summary: String
    var examples: [String]
    var valueOptions: Set<String> = []
    /// Functions, by value option, that return how many of the words after the value's first
    /// word still belong to it, for values typed without quotes (see `Arguments`).
    var valueContinuations: [String: @Sendable (String, ArraySlice<String>) -> Int] = [:]
    var flags: Set<String> = []
    /// One-letter flags and the long flag each stands for, like `-f` for `--follow`.
    var shortFlags: [Character: String] = [:]
    var run: @Sendable (Arguments, CommandContext) throws -> Void
}

extension GatewayCommand {
    /// Every command, in the order `help` lists them.
    static let all: [GatewayCommand] = [
        create, list, show, status, start, stop, sleep, whyAwake, delete, exec, logs, duplicate,
        rebuild, rename, resize, port, idle, domain, snapshot, keys, images, whoami, balance, history,
        usage, topUp, email, apiKey, help,
    ]

    static func named(_ name: String) -> GatewayCommand? {
        let aliases = ["list": "ls", "rm": "delete", "rotate-key": "api-key"]
        let resolved = aliases[name] ?? name
        return all.first { $0.name == resolved }
    }

    static let help = GatewayCommand(
        name: "help", usage: "help [COMMAND]",
        summary: "List the commands, or show one command's usage and examples.",
        examples: ["help", "help create"]
    ) { arguments, context in
        try arguments.expectAtMost(1, usage: "help [COMMAND]")
        if let name = arguments.positional.first {
            guard let command = GatewayCommand.named(name) else {
                throw ControlError.invalidArgument("unknown command '\(name)'; run `help` to list them")
            }
            context.print(command.helpText(context.gateway))
        } else {
            context.print(GatewayCommand.overview(context.gateway))
        }
    }

    func helpText(_ gateway: GatewayContext) -> String {
        var text = "usage: \(usage)\n\n\(summary)\n"
        if !examples.isEmpty {
            text += "\nexamples:\n"
            for example in examples {
                // An indented example continues the one before it and is not a gateway command.
                if example.hasPrefix(" ") {
                    text += "  \(example)\n"
                } else {
                    text += "  ssh -p \(gateway.sshPort) \(gateway.publicHost) \(example)\n"
                }
            }
        }
        text += "\nEvery command accepts --json to print the REST API's JSON."
        return text
    }

    static func overview(_ gateway: GatewayContext) -> String {
        let width = all.map(\.usage.count).max() ?? 0
        var text = "Particle: small virtual machines over SSH.\n\n"
        text += "usage: ssh -p \(gateway.sshPort) \(gateway.publicHost) COMMAND [ARGUMENTS] [--json]\n\n"
        text += "commands:\n"
        for command in all {
            let padding = String(repeating: " ", count: width - command.usage.count)
            text += "  \(command.usage)\(padding)  \(command.summary)\n"
        }
        text += "\nexit status:\n"
        for status in CommandExitStatus.allCases {
            text += "  \(status.rawValue)  \(status.meaning)\n"
        }
        text += "\nRun `help COMMAND` for a command's options and examples.\n"
        text += "`ssh -t -p \(gateway.sshPort) \(gateway.publicHost)` with no command opens a prompt"
        text += " for these commands.\n"
        text += "`ssh -p \(gateway.sshPort) NAME@\(gateway.publicHost)` opens a shell in your particle NAME."
        return text
    }
}
