import Foundation

extension SQLiteStore {
    private static let transactionColumns =
        "id, account_id, amount_cents, type, created_at, reference, description"

    public func insertTransaction(_ transaction: LedgerTransaction) async throws -> Bool {
        try await run { database in
            try database.transaction { try Self.insert(transaction, into: database) }
        }
    }

    public func transactions(accountID: String, limit: Int) async throws -> [LedgerTransaction] {
        try await run { database in
            try database.query(
                "SELECT \(Self.transactionColumns) FROM transactions WHERE account_id = ?"
                    + " ORDER BY created_at DESC, rowid DESC LIMIT ?",
                [.text(accountID), .integer(Int64(limit))]
            ).map(Self.transaction)
        }
    }

    public func ledgerDiscrepancies() async throws -> [LedgerDiscrepancy] {
        try await run { database in
            try database.query(
                """
                SELECT a.id, a.balance_cents, COALESCE(SUM(t.amount_cents), 0) AS ledger
                FROM accounts a LEFT JOIN transactions t ON t.account_id = a.id
                GROUP BY a.id HAVING a.balance_cents != ledger ORDER BY a.id
                """
            ).map { row in
                LedgerDiscrepancy(
                    accountID: row[0].string!, balanceCents: row[1].int!, ledgerCents: row[2].int!)
            }
        }
    }

    /// Appends `transaction` and moves the account's balance by its amount; it runs inside the
    /// caller's transaction. Returns false, changing nothing, when the reference is already recorded.
    static func insert(_ transaction: LedgerTransaction, into database: SQLiteDatabase) throws
        -> Bool
    {
        if let reference = transaction.reference {
            let existing = try database.query(
                "SELECT id FROM transactions WHERE reference = ?", [.text(reference)])
            guard existing.isEmpty else { return false }
        }
        try database.query(
            "INSERT INTO transactions (\(transactionColumns)) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                .text(transaction.id), .text(transaction.accountID),
                .integer(transaction.amountCents),
                .text(transaction.kind.rawValue), .time(transaction.createdAt),
                .optionalText(transaction.reference), .text(transaction.description),
            ])
        let updated = try database.query(
            "UPDATE accounts SET balance_cents = balance_cents + ? WHERE id = ? RETURNING id",
            [.integer(transaction.amountCents), .text(transaction.accountID)])
        guard !updated.isEmpty else {
            throw ControlError.notFound("account '\(transaction.accountID)' not found")
        }
        return true
    }

    private static func transaction(_ row: [SQLiteValue]) -> LedgerTransaction {
        LedgerTransaction(
            id: row[0].string!, accountID: row[1].string!, amountCents: row[2].int!,
            kind: LedgerTransaction.Kind(rawValue: row[3].string!) ?? .grant,
            createdAt: row[4].date!,
            reference: row[5].string, description: row[6].string ?? "")
    }
}
