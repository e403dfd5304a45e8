import Control

extension GatewayCommand {
    static let rename = particleUpdate(
        "rename", usage: "rename NAME NEW", summary: "Rename a particle; its URLs follow at once.",
        example: "rename web blog", argument: "new name"
    ) { control, account, name, value in
        try await control.renameParticle(accountID: account, name: name, newName: value)
    }

    static let resize = particleUpdate(
        "resize", usage: "resize NAME pN", summary: "Change the size of a stopped particle; the disk only grows.",
        example: "resize web p2", argument: "size"
    ) { control, account, name, value in
        try await control.resizeParticle(accountID: account, name: name, size: value)
    }

    static let port = particleUpdate(
        "port", usage: "port NAME PORT", summary: "Set the guest port that the particle's default URL serves.",
        example: "port web 8080", argument: "port"
    ) { control, account, name, value in
        guard let port = Int(value) else {
            throw ControlError.invalidArgument("invalid port '\(value)'; use a number from 1 to 65535")
        }
        return try await control.setHTTPPort(accountID: account, name: name, port: port)
    }

    static let rebuild = GatewayCommand(
        name: "rebuild", usage: "rebuild NAME [--image ID]",
        summary: "Replace a stopped particle's disk with a fresh image; keeps name and address.",
        examples: ["rebuild web", "rebuild web --image debian-12"], valueOptions: ["image"]
    ) { arguments, context in
        let name = try arguments.required(0, "particle name", usage: "rebuild NAME [--image ID]")
        try arguments.expectAtMost(1, usage: "rebuild NAME [--image ID]")
        let image = arguments.options["image"]
        let accountID = context.accountID
        let particle = try context.perform {
            try await $0.rebuildParticle(accountID: accountID, name: name, image: image)
        }
        context.json ? context.printJSON(particle.detailJSON) : context.print(table(particle.detailJSON))
    }

    static let duplicate = GatewayCommand(
        name: "duplicate", usage: "duplicate NAME NEW [--with-memory]",
        summary: "Copy a stopped or sleeping particle's disk (and with --with-memory a sleeping one's memory) into a new particle.",
        examples: ["duplicate web web-copy", "duplicate web web-twin --with-memory"],
        flags: ["with-memory"]
    ) { arguments, context in
        let usage = "duplicate NAME NEW [--with-memory]"
        let name = try arguments.required(0, "particle name", usage: usage)
        let newName = try arguments.required(1, "new name", usage: usage)
        try arguments.expectAtMost(2, usage: usage)
        let accountID = context.accountID
        let withMemory = arguments.flags.contains("with-memory")
        let copy = try context.perform {
            try await $0.duplicateParticle(accountID: accountID, name: name, newName: newName, withMemory: withMemory)
        }
        context.json ? context.printJSON(copy.createdJSON) : context.print(table(copy.createdJSON))
    }

    static let idle = GatewayCommand(
        name: "idle", usage: "idle NAME POLICY [--timeout 30s] [--schedule WINDOWS]",
        summary: "Set the idle policy: sleep (default, after --timeout), on, none or schedule.",
        examples: [
            "idle web sleep --timeout 5m", "idle web on",
            "idle web schedule --schedule 'mon-fri 08:00-19:00 Europe/Berlin'",
        ],
        valueOptions: ["timeout", "schedule"],
        valueContinuations: ["schedule": { WeeklySchedule.wordCount(continuing: $0, in: $1) }]
    ) { arguments, context in
        let usage = "idle NAME POLICY [--timeout 30s] [--schedule WINDOWS]"
        let name = try arguments.required(0, "particle name", usage: usage)
        let policy = try arguments.required(1, "policy (none, on, sleep or schedule)", usage: usage)
        try arguments.expectAtMost(2, usage: usage)
        let timeout = try arguments.options["timeout"].map { text throws(ControlError) in
            try IdleSettings.parseTimeout(text)
        }
        let schedule = arguments.options["schedule"]
        let accountID = context.accountID
        let particle = try context.perform {
            try await $0.setIdlePolicy(
                accountID: accountID, name: name, policy: policy, timeoutSeconds: timeout, schedule: schedule)
        }
        context.json ? context.printJSON(particle.detailJSON) : context.print(table(particle.detailJSON))
    }

    static let domain = GatewayCommand(
        name: "domain", usage: "domain set NAME DOMAIN | domain rm NAME",
        summary: "Serve a particle's default port at your own domain too, or stop doing so.",
        examples: ["domain set web app.example.com", "domain rm web"]
    ) { arguments, context in
        let usage = "domain set NAME DOMAIN | domain rm NAME"
        let action = try arguments.required(0, "action (set or rm)", usage: usage)
        let name = try arguments.required(1, "particle name", usage: usage)
        let accountID = context.accountID
        let particle: Particle
        switch action {
        case "set":
            let domain = try arguments.required(2, "domain", usage: usage)
            try arguments.expectAtMost(3, usage: usage)
            particle = try context.perform {
                try await $0.setCustomDomain(accountID: accountID, name: name, domain: domain)
            }
        case "rm", "remove":
            try arguments.expectAtMost(2, usage: usage)
            particle = try context.perform { try await $0.removeCustomDomain(accountID: accountID, name: name) }
        default:
            throw ControlError.invalidArgument("unknown domain action '\(action)'; usage: \(usage)")
        }
        context.json ? context.printJSON(particle.detailJSON) : context.print(table(particle.detailJSON))
    }

    /// Makes a command `NAME VALUE` that changes one setting of a particle and prints it.
    private static func particleUpdate(
        _ name: String, usage: String, summary: String, example: String, argument: String,
        _ operation: @escaping @Sendable (Control, String, String, String) async throws -> Particle
    ) -> GatewayCommand {
        GatewayCommand(name: name, usage: usage, summary: summary, examples: [example]) { arguments, context in
            let particleName = try arguments.required(0, "particle name", usage: usage)
            let value = try arguments.required(1, argument, usage: usage)
            try arguments.expectAtMost(2, usage: usage)
            let accountID = context.accountID
            let particle = try context.perform { try await operation($0, accountID, particleName, value) }
            context.json ? context.printJSON(particle.detailJSON) : context.print(table(particle.detailJSON))
        }
    }
}
