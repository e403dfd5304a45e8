import Foundation

extension SQLiteStore {
    public func setRecoveryEmail(accountID: String, email: String?) async throws {
        try await run { database in
            let updated = try database.query(
                "UPDATE accounts SET recovery_email = ? WHERE id = ? RETURNING id",
                [.optionalText(email), .text(accountID)])
            guard !updated.isEmpty else {
                throw ControlError.notFound("account '\(accountID)' not found")
            }
        }
    }

    public func accounts(recoveryEmail email: String) async throws -> [Account] {
        try await run { database in
            try database.query(
                "SELECT id, balance_cents, recovery_email, created_at FROM accounts"
                    + " WHERE recovery_email = ? COLLATE NOCASE ORDER BY created_at, id",
                [.text(email)]
            ).map(Self.account)
        }
    }

    public func replaceRecoveryAPIKey(
        accountID: String, keyHash: String, id: String, createdAt: Date
    )
        async throws
    {
        try await run { database in
            try database.transaction {
                try database.query(
                    "DELETE FROM api_keys WHERE account_id = ? AND purpose = 'recovery'",
                    [.text(accountID)])
                try database.query(
                    "INSERT INTO api_keys (id, account_id, key_hash, created_at, purpose)"
                        + " VALUES (?, ?, ?, ?, 'recovery')",
                    [.text(id), .text(accountID), .text(keyHash), .time(createdAt)])
            }
        }
    }
}
