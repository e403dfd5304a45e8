import Control
import Foundation

extension GatewayCommand {
    static let apiKey = GatewayCommand(
        name: "api-key", usage: "api-key",
        summary: "Issue a new REST API key for this account; earlier keys stop working.",
        examples: ["api-key", "api-key --json"]
    ) { arguments, context in
        try arguments.expectAtMost(0, usage: "api-key")
        let accountID = context.accountID
        let key = try context.perform { try await $0.rotateAPIKey(accountID: accountID) }
        if context.json {
            // The body of POST /v1/account/rotate-key.
            context.printJSON(
                .object([
                    ("api_key", .string(key)),
                    ("message", .string("API key rotated. Old key is now invalid.")),
                ]))
        } else {
            context.print(key)
        }
    }

    static let whoami = GatewayCommand(
        name: "whoami", usage: "whoami", summary: "Show your account.", examples: ["whoami"]
    ) { arguments, context in
        try arguments.expectAtMost(0, usage: "whoami")
        let accountID = context.accountID
        let account = try context.perform { try await $0.account(id: accountID) }
        context.json ? context.printJSON(account.json) : context.print(table(account.json))
    }

    static let balance = GatewayCommand(
        name: "balance", usage: "balance",
        summary: "Show your prepaid balance; --json prints the account as GET /v1/account does.",
        examples: ["balance", "balance --json"]
    ) { arguments, context in
        try arguments.expectAtMost(0, usage: "balance")
        let accountID = context.accountID
        let account = try context.perform { try await $0.account(id: accountID) }
        if context.json { return context.printJSON(account.json) }
        context.print("\(formatCents(account.balanceCents)) (\(account.balanceCents) cents)")
    }

    static let history = GatewayCommand(
        name: "history", usage: "history [--limit N]",
        summary: "List your ledger: top-ups, usage charges and grants, newest first (default 100,"
            + " at most 1000).",
        examples: ["history", "history --limit 10 --json"], valueOptions: ["limit"]
    ) { arguments, context in
        try arguments.expectAtMost(0, usage: "history [--limit N]")
        let limitText = arguments.options["limit"] ?? "100"
        guard let limit = Int(limitText) else {
            throw ControlError.invalidArgument("invalid limit '\(limitText)'; use 1-1000")
        }
        let accountID = context.accountID
        let transactions = try context.perform {
            try await $0.history(accountID: accountID, limit: limit)
        }
        if context.json {
            return context.printJSON(.object([("transactions", .array(transactions.map(\.json)))]))
        }
        guard !transactions.isEmpty else {
            return context.print("no transactions yet; add funds with `topup CENTS`")
        }
        let rows = transactions.map {
            [JSON.time($0.createdAt).plainText, $0.kind.rawValue, formatCents($0.amountCents), $0.id]
        }
        context.print(columns([["TIME", "TYPE", "AMOUNT", "ID"]] + rows))
    }

    static let usage = GatewayCommand(
        name: "usage", usage: "usage [day|week|month|all]",
        summary: "Show what each particle cost over a period (default month, UTC).",
        examples: ["usage", "usage week", "usage all --json"]
    ) { arguments, context in
        try arguments.expectAtMost(1, usage: "usage [day|week|month|all]")
        let period = try UsagePeriod.parse(arguments.positional.first)
        let accountID = context.accountID
        let report = try context.perform { try await $0.usage(accountID: accountID, period: period) }
        if context.json { return context.printJSON(report.json) }
        let start = JSON.time(report.start).plainText
        let end = JSON.time(report.end).plainText
        context.print("\(report.period.rawValue): \(start) to \(end)")
        let rows = report.particles.map {
            [$0.name, $0.size.rawValue, $0.status, String($0.computeHours), formatCents($0.totalCents)]
        }
        if !rows.isEmpty {
            context.print(columns([["NAME", "SIZE", "STATUS", "COMPUTE HOURS", "COST"]] + rows))
        }
        context.print("total \(formatCents(report.totalCents))")
    }

    static let topUp = GatewayCommand(
        name: "topup", usage: "topup CENTS",
        summary: "Get a Stripe payment page that adds CENTS to your balance (at least 1000, $10);"
            + " the balance grows once the payment completes.",
        examples: ["topup 2500"]
    ) { arguments, context in
        let amountText = try arguments.required(0, "amount in cents", usage: "topup CENTS")
        try arguments.expectAtMost(1, usage: "topup CENTS")
        guard let amount = Int(amountText) else {
            throw ControlError.invalidArgument(
                "invalid amount '\(amountText)'; give whole cents, like 2500 for $25.00")
        }
        let accountID = context.accountID
        let url = try context.perform {
            try await $0.createTopUp(accountID: accountID, amountCents: amount)
        }
        if context.json { return context.printJSON(.object([("url", .string(url))])) }
        context.print(url)
        context.io.writeError(
            "Open the URL to pay \(formatCents(Int64(amount))); `balance` shows the new balance"
                + " once the payment completes.\n")
    }

    static let email = GatewayCommand(
        name: "email", usage: "email ADDRESS",
        summary: "Set the recovery email, where a new API key can be sent if you lose your keys.",
        examples: ["email me@example.com"]
    ) { arguments, context in
        let address = try arguments.required(0, "email address", usage: "email ADDRESS")
        try arguments.expectAtMost(1, usage: "email ADDRESS")
        let accountID = context.accountID
        let stored = try context.perform {
            try await $0.setRecoveryEmail(accountID: accountID, email: address)
        }
        if context.json { return context.printJSON(.object([("email", .string(stored))])) }
        context.print("recovery email set to \(stored)")
    }
}

/// Formats cents as dollars, like `$9.76` or `-$0.24`.
func formatCents(_ cents: Int64) -> String {
    let sign = cents < 0 ? "-" : ""
    let magnitude = cents.magnitude
    let fraction = String(magnitude % 100)
    return "\(sign)$\(magnitude / 100).\(fraction.count == 1 ? "0" + fraction : fraction)"
}

extension JSON {
    /// A string value without its JSON quotes, for table cells.
    var plainText: String {
        if case .string(let text) = self { return text }
        return serialized()
    }
}
