import Control
import Foundation

extension GatewayCommand {
    static let create = GatewayCommand(
        name: "create", usage: "create NAME [--size pN] [--image ID]",
        summary: "Create a particle and boot it; prints it once it runs.",
        examples: ["create web", "create api --size p2 --image debian-12"],
        valueOptions: ["size", "image"]
    ) { arguments, context in
        let usage = "create NAME [--size pN] [--image ID]"
        let name = try arguments.required(0, "particle name", usage: usage)
        try arguments.expectAtMost(1, usage: usage)
        let size = try ParticleSize.parse(arguments.options["size"] ?? "p1")
        let image = arguments.options["image"]
        let accountID = context.accountID
        let particle = try context.perform {
            try await $0.createParticle(accountID: accountID, name: name, size: size, image: image)
        }
        if context.json {
            context.printJSON(particle.createdJSON)
        } else {
            context.print(table(particle.createdJSON))
            context.print("url         \(context.gateway.url(particle))")
        }
    }

    static let list = GatewayCommand(
        name: "ls", usage: "ls", summary: "List your particles.", examples: ["ls"]
    ) { arguments, context in
        try arguments.expectAtMost(0, usage: "ls")
        let accountID = context.accountID
        let particles = try context.perform { try await $0.particles(accountID: accountID) }
        if context.json {
            return context.printJSON(.object([("particles", .array(particles.map(\.summaryJSON)))]))
        }
        guard !particles.isEmpty else {
            return context.print("no particles yet; create one with `create NAME`")
        }
        let rows = particles.map {
            [$0.name, $0.size.rawValue, $0.status.rawValue, $0.idlePolicy.rawValue, $0.image,
             context.gateway.url($0)]
        }
        context.print(columns([["NAME", "SIZE", "STATUS", "IDLE", "IMAGE", "URL"]] + rows))
    }

    static let show = GatewayCommand(
        name: "show", usage: "show NAME",
        summary: "Show one particle's settings, as GET /v1/particles/NAME returns them.",
        examples: ["show web", "show web --json"]
    ) { arguments, context in
        let name = try arguments.required(0, "particle name", usage: "show NAME")
        try arguments.expectAtMost(1, usage: "show NAME")
        let accountID = context.accountID
        let particle = try context.perform { try await $0.particle(accountID: accountID, name: name) }
        if context.json { return context.printJSON(particle.detailJSON) }
        guard case .object(let fields) = particle.detailJSON else { return }
        context.print(table(.object(fields + [("url", .string(context.gateway.url(particle)))])))
    }

    static let status = GatewayCommand(
        name: "status", usage: "status NAME",
        summary: "Show a particle with live numbers from its guest.", examples: ["status web"]
    ) { arguments, context in
        let name = try arguments.required(0, "particle name", usage: "status NAME")
        try arguments.expectAtMost(1, usage: "status NAME")
        let accountID = context.accountID
        let report = try context.perform { try await $0.status(accountID: accountID, name: name) }
        let json = report.json
        context.json ? context.printJSON(json) : context.print(table(json))
    }

    static let start = lifecycle(
        "start", summary: "Boot a stopped particle.",
        operation: { try await $0.startParticle(accountID: $1, name: $2) })

    static let stop = lifecycle(
        "stop", summary: "Shut a particle down cleanly; its disk is kept.",
        operation: { try await $0.stopParticle(accountID: $1, name: $2) })

    static let sleep = lifecycle(
        "sleep", summary: "Put a running particle to sleep now; the next use or `start` wakes it.",
        operation: { try await $0.sleepParticle(accountID: $1, name: $2) })

    static let whyAwake = GatewayCommand(
        name: "why-awake", usage: "why-awake NAME",
        summary: "List what keeps a particle awake and when it sleeps if nothing changes.",
        examples: ["why-awake web"]
    ) { arguments, context in
        let name = try arguments.required(0, "particle name", usage: "why-awake NAME")
        try arguments.expectAtMost(1, usage: "why-awake NAME")
        let accountID = context.accountID
        let report = try context.perform { try await $0.whyAwake(accountID: accountID, name: name) }
        guard !context.json else { return context.printJSON(report.json) }
        let particle = report.particle
        var lines = [
            "\(particle.name) is \(particle.status.rawValue), idle policy \(particle.idlePolicy.rawValue)"
                + " (timeout \(particle.idleTimeoutSeconds) s)"
        ]
        let rows = report.activities.map { activity in
            [activity.kind.rawValue, activity.detail, "for \(Int(max(0, report.now.timeIntervalSince(activity.startedAt)))) s"]
        }
        if !rows.isEmpty { lines.append(columns(rows).trimmingCharacters(in: .newlines)) }
        lines.append(report.summary)
        context.print(lines.joined(separator: "\n") + "\n")
    }

    private static func lifecycle(
        _ name: String, summary: String,
        operation: @escaping @Sendable (Control, String, String) async throws -> Particle
    ) -> GatewayCommand {
        GatewayCommand(
            name: name, usage: "\(name) NAME", summary: summary, examples: ["\(name) web"]
        ) { arguments, context in
            let particleName = try arguments.required(0, "particle name", usage: "\(name) NAME")
            try arguments.expectAtMost(1, usage: "\(name) NAME")
            let accountID = context.accountID
            let particle = try context.perform { try await operation($0, accountID, particleName) }
            context.json ? context.printJSON(particle.detailJSON) : context.print(table(particle.detailJSON))
        }
    }

    static let delete = GatewayCommand(
        name: "delete", usage: "delete NAME [--yes]",
        summary: "Delete a particle and its disk for good; asks for the name unless --yes.",
        examples: ["delete web --yes"], flags: ["yes"]
    ) { arguments, context in
        let name = try arguments.required(0, "particle name", usage: "delete NAME [--yes]")
        try arguments.expectAtMost(1, usage: "delete NAME [--yes]")
        let accountID = context.accountID
        _ = try context.perform { try await $0.particle(accountID: accountID, name: name) }
        if !arguments.flags.contains("yes") {
            context.io.writeError("This erases particle '\(name)' and its disk. Type its name to confirm: ")
            guard let answer = context.io.readLine() else {
                throw ControlError.invalidArgument(
                    "deleting '\(name)' needs confirmation; run `delete \(name) --yes`")
            }
            guard answer.trimmingCharacters(in: .whitespaces) == name else {
                throw ControlError.invalidArgument(
                    "confirmation '\(answer)' does not match '\(name)'; nothing was deleted")
            }
        }
        try context.perform { try await $0.deleteParticle(accountID: accountID, name: name) }
        if !context.json { context.print("deleted particle '\(name)'") }
    }

    static let exec = GatewayCommand(
        name: "exec", usage: "exec NAME -- COMMAND...",
        summary: "Run a command in a running particle as root; returns its output and exit status.",
        examples: ["exec web -- uname -a", "exec web -- 'systemd-run python3 -m http.server 8000'"],
        run: runExec)

    private static func runExec(_ arguments: Arguments, _ context: CommandContext) throws {
        let usage = "exec NAME -- COMMAND..."
        let name = try arguments.required(0, "particle name", usage: usage)
        try arguments.expectAtMost(1, usage: usage)
        guard let command = arguments.rest, !command.isEmpty else {
            throw ControlError.invalidArgument("missing command after --; usage: \(usage)")
        }
        let accountID = context.accountID
        let io = UncheckedIO(io: context.io)
        let stream: @Sendable ([UInt8]) -> Void = { bytes in io.io.write(bytes: bytes) }
        let onOutput = context.json ? nil : stream
        let result: ExecResult = try context.perform { control in
            try await control.exec(
                accountID: accountID, name: name, command: command, onOutput: onOutput)
        }
        if context.json {
            context.printJSON(result.json)
        }
        throw CommandExit(status: result.exitCode)
    }

    static let logs = GatewayCommand(
        name: "logs", usage: "logs NAME [--offset BYTES] [-f]",
        summary: "Print a particle's serial console output; -f (--follow) keeps printing new"
            + " output until you hang up or press Ctrl-C.",
        examples: ["logs web", "logs web -f", "logs web --offset 4096 --json"],
        valueOptions: ["offset"], flags: ["follow"], shortFlags: ["f": "follow"],
        run: runLogs)

    /// How often `logs -f` reads the serial log again once it has printed everything.
    static let followInterval = Duration.milliseconds(250)

    private static func runLogs(_ arguments: Arguments, _ context: CommandContext) throws {
        let usage = "logs NAME [--offset BYTES] [-f]"
        let name = try arguments.required(0, "particle name", usage: usage)
        try arguments.expectAtMost(1, usage: usage)
        let offsetText = arguments.options["offset"] ?? "0"
        guard var offset = Int(offsetText) else {
            throw ControlError.invalidArgument("invalid offset '\(offsetText)'; use a number of bytes")
        }
        let follow = arguments.flags.contains("follow")
        let accountID = context.accountID
        repeat {
            let requested = offset
            let (particle, bytes, next) = try context.perform {
                try await $0.logs(accountID: accountID, name: name, offset: requested)
            }
            offset = next
            if context.json && (!follow || !bytes.isEmpty) {
                let json = JSON.object([
                    ("logs", .string(String(decoding: bytes, as: UTF8.self))),
                    ("offset", .int(Int64(next))), ("status", .string(particle.status.rawValue)),
                ])
                // Following prints one compact object per line (JSON Lines), so that a reader
                // can parse each chunk as it arrives.
                follow ? context.io.write(json.serialized() + "\n") : context.printJSON(json)
            } else if !context.json {
                context.io.write(bytes: bytes)
            }
            // A full read means more is waiting; read again at once.
            guard bytes.isEmpty else { continue }
            if follow && context.io.waitForInterrupt(timeout: followInterval) { return }
        } while follow && !context.io.isClosed
    }

    static let images = GatewayCommand(
        name: "images", usage: "images", summary: "List the images particles can be made from.",
        examples: ["images"]
    ) { arguments, context in
        try arguments.expectAtMost(0, usage: "images")
        let images = try context.perform { await $0.images() }
        if context.json {
            return context.printJSON(.object([("images", .array(images.map(\.json)))]))
        }
        let rows = images.map {
            [$0.id, $0.displayName, $0.isDefault ? "yes" : "",
             $0.available ? "yes" : "no: \($0.reason ?? "")"]
        }
        context.print(columns([["ID", "NAME", "DEFAULT", "AVAILABLE"]] + rows))
    }

}

/// Ends a command with a given exit status without an error message (for `exec`).
struct CommandExit: Error {
    var status: Int32
}

/// Lets the output callback of `exec`, which runs on another thread, write to the session.
struct UncheckedIO: @unchecked Sendable {
    // The transport's writes are safe from any thread, which the protocol cannot express.
    let io: any CommandIO
}

/// Formats a JSON object as aligned `key  value` lines, nested objects indented.
func table(_ json: JSON, indent: String = "") -> String {
    guard case .object(let fields) = json else { return json.serialized() }
    let width = fields.map(\.0.count).max() ?? 0
    return fields.map { key, value in
        let padding = String(repeating: " ", count: width - key.count + 2)
        switch value {
        case .object: return "\(indent)\(key)\n" + table(value, indent: indent + "  ")
        case .string(let text): return "\(indent)\(key)\(padding)\(text)"
        case .null: return "\(indent)\(key)\(padding)-"
        default: return "\(indent)\(key)\(padding)\(value.serialized())"
        }
    }.joined(separator: "\n")
}

/// Formats rows as left-aligned columns separated by two spaces.
func columns(_ rows: [[String]]) -> String {
    let count = rows.map(\.count).max() ?? 0
    let widths = (0..<count).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 2)
        }.joined()
    }.joined(separator: "\n")
}
