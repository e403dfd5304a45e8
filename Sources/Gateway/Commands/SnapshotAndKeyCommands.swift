import Control
import Foundation

extension GatewayCommand {
    static let snapshot = GatewayCommand(
        name: "snapshot", usage: "snapshot create|ls|restore|rm NAME [SNAPSHOT]",
        summary: "Take, list, restore (particle stopped) or delete disk snapshots.",
        examples: ["snapshot create web before-deploy", "snapshot ls web", "snapshot restore web before-deploy"]
    ) { arguments, context in
        let usage = "snapshot create|ls|restore|rm NAME [SNAPSHOT]"
        let action = try arguments.required(0, "action (create, ls, restore or rm)", usage: usage)
        let name = try arguments.required(1, "particle name", usage: usage)
        let accountID = context.accountID
        if action == "ls" || action == "list" {
            try arguments.expectAtMost(2, usage: usage)
            let snapshots = try context.perform { try await $0.snapshots(accountID: accountID, name: name) }
            if context.json {
                return context.printJSON(.object([("snapshots", .array(snapshots.map(\.summaryJSON)))]))
            }
            guard !snapshots.isEmpty else { return context.print("no snapshots of '\(name)'") }
            let rows = snapshots.map { [$0.name, $0.id, "\($0.sizeBytes >> 20) MiB", JSON.time($0.createdAt).plainText] }
            return context.print(columns([["NAME", "ID", "SIZE", "CREATED"]] + rows))
        }
        let snapshotName = try arguments.required(2, "snapshot name", usage: usage)
        try arguments.expectAtMost(3, usage: usage)
        switch action {
        case "create":
            let snapshot = try context.perform {
                try await $0.createSnapshot(accountID: accountID, name: name, snapshotName: snapshotName)
            }
            context.json ? context.printJSON(snapshot.createdJSON) : context.print(table(snapshot.createdJSON))
        case "restore":
            try context.perform {
                try await $0.restoreSnapshot(accountID: accountID, name: name, snapshot: snapshotName)
            }
            context.json
                ? context.printJSON(.object([("status", .string("restored"))]))
                : context.print("restored '\(name)' to snapshot '\(snapshotName)'")
        case "rm", "delete":
            try context.perform {
                try await $0.deleteSnapshot(accountID: accountID, name: name, snapshot: snapshotName)
            }
            if !context.json { context.print("deleted snapshot '\(snapshotName)'") }
        default:
            throw ControlError.invalidArgument("unknown snapshot action '\(action)'; usage: \(usage)")
        }
    }

    static let keys = GatewayCommand(
        name: "keys", usage: "keys ls | keys challenge | keys add [NAME] < key.pub+key.sig | keys rm ID",
        summary: "List, add or remove your account's SSH keys; adding proves you hold the key by"
            + " signing a challenge.",
        examples: [
            "keys ls", "keys challenge > challenge.txt",
            "  then: ssh-keygen -Y sign -f ~/.ssh/laptop -n particle challenge.txt",
            "  then: cat ~/.ssh/laptop.pub challenge.txt challenge.txt.sig | ssh ... keys add laptop",
            "keys rm a1b2c3d4",
        ]
    ) { arguments, context in
        let usage = "keys ls | keys challenge | keys add [NAME] < key.pub+key.sig | keys rm ID"
        let action = try arguments.required(0, "action (ls, add or rm)", usage: usage)
        let accountID = context.accountID
        switch action {
        case "ls", "list":
            try arguments.expectAtMost(1, usage: usage)
            let keys = try context.perform { try await $0.keys(accountID: accountID) }
            if context.json { return context.printJSON(.object([("keys", .array(keys.map(\.json)))])) }
            let rows = keys.map { [$0.id, $0.name, $0.publicKey.algorithm, $0.publicKey.fingerprint] }
            context.print(columns([["ID", "NAME", "TYPE", "FINGERPRINT"]] + rows))
        case "challenge":
            try arguments.expectAtMost(1, usage: usage)
            let (challenge, expiresAt) = try context.perform { $0.challenges.issue() }
            guard context.json else { return context.io.write(challenge + "\n") }
            // The body of GET /v1/accounts/challenge.
            context.printJSON(
                .object([
                    ("challenge", .string(challenge)), ("namespace", .string("particle")),
                    ("expires_at", JSON.time(expiresAt)),
                ]))
        case "add":
            try arguments.expectAtMost(2, usage: usage)
            let name = arguments.positional.count > 1 ? arguments.positional[1] : nil
            let proof = "send the public key, the challenge from `keys challenge` and its signature"
                + " (`ssh-keygen -Y sign -n particle`) on standard input; see `help keys`"
            guard let line = context.io.readLine(), !line.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ControlError.invalidArgument("missing public key on standard input; \(proof)")
            }
            guard let challenge = context.io.readLine()?.trimmingCharacters(in: .whitespaces),
                challenge.hasPrefix(AccountChallenges.prefix)
            else {
                throw ControlError.invalidArgument("missing challenge after the public key; \(proof)")
            }
            var signature = ""
            while let next = context.io.readLine() { signature += next + "\n" }
            let armored = signature
            let key = try context.perform {
                try await $0.addKey(
                    accountID: accountID, publicKey: line, name: name, challenge: challenge, signature: armored)
            }
            context.json
                ? context.printJSON(.object([("id", .string(key.id)), ("name", .string(key.name))]))
                : context.print("added key '\(key.name)' (\(key.id), \(key.publicKey.fingerprint))")
        case "rm", "remove":
            let id = try arguments.required(1, "key id", usage: usage)
            try arguments.expectAtMost(2, usage: usage)
            try context.perform { try await $0.removeKey(accountID: accountID, id: id) }
            if !context.json { context.print("removed key '\(id)'") }
        default:
            throw ControlError.invalidArgument("unknown keys action '\(action)'; usage: \(usage)")
        }
    }
}
