import Control

extension GatewayCommand {
    static let apiKey = GatewayCommand(
        name: "api-key", usage: "api-key",
        summary: "Issue a new REST API key for this account; earlier keys stop working.",
        examples: ["api-key"]
    ) { arguments, context in
        try arguments.expectAtMost(0, usage: "api-key")
        let accountID = context.accountID
        let key = try context.perform { try await $0.rotateAPIKey(accountID: accountID) }
        if context.json {
            context.printJSON(.object([("api_key", .string(key))]))
        } else {
            context.print(key)
        }
    }
}
