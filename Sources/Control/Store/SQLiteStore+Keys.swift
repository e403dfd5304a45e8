import Foundation

extension SQLiteStore {
    public func insertKey(_ key: AccountKey) async throws {
        try await run { database in try Self.insert(key, into: database) }
    }

    public func deleteKey(accountID: String, id: String) async throws -> Bool {
        try await run { database in
            try database.transaction {
                let existing = try database.query(
                    "SELECT id FROM account_keys WHERE account_id = ? AND id = ?",
                    [.text(accountID), .text(id)])
                guard !existing.isEmpty else { return false }
                try database.query(
                    "DELETE FROM account_keys WHERE account_id = ? AND id = ?",
                    [.text(accountID), .text(id)])
                return true
            }
        }
    }

    public func account(apiKeyHash: String) async throws -> Account? {
        try await run { database in
            try database.query(
                "SELECT a.id, a.balance_cents, a.recovery_email, a.created_at FROM accounts a"
                    + " JOIN api_keys k ON k.account_id = a.id WHERE k.key_hash = ?",
                [.text(apiKeyHash)]
            ).first.map(Self.account)
        }
    }

    public func replaceAPIKey(accountID: String, keyHash: String, id: String, createdAt: Date)
        async throws
    {
        try await run { database in
            try database.transaction {
                try database.query("DELETE FROM api_keys WHERE account_id = ?", [.text(accountID)])
                try Self.insertAPIKey(
                    accountID: accountID, keyHash: keyHash, id: id, createdAt: createdAt, into: database)
            }
        }
    }

    public func insertAccount(_ account: Account, key: AccountKey, apiKeyHash: String) async throws {
        try await run { database in
            try database.transaction {
                try Self.insert(account, into: database)
                try Self.insert(key, into: database)
                try Self.insertAPIKey(
                    accountID: account.id, keyHash: apiKeyHash, id: RandomID.hex(8),
                    createdAt: account.createdAt, into: database)
            }
        }
    }

    static func insertAPIKey(
        accountID: String, keyHash: String, id: String, createdAt: Date, into database: SQLiteDatabase
    ) throws {
        try database.query(
            "INSERT INTO api_keys (id, account_id, key_hash, created_at) VALUES (?, ?, ?, ?)",
            [.text(id), .text(accountID), .text(keyHash), .time(createdAt)])
    }
}
