import Foundation
import Support

/// The embedded store: one SQLite file in WAL mode, used from one dedicated thread.
public final class SQLiteStore: Store {
    private let thread = BlockingThread(name: "particle-store")
    // Used only on `thread`, so never from two threads at once.
    nonisolated(unsafe) private let database: SQLiteDatabase

    /// Opens (or creates) the database at `path` and applies pending migrations.
    public init(path: String) throws {
        let thread = self.thread
        database = try thread.runAndWait {
            let database = try SQLiteDatabase(path: path)
            try database.execute("PRAGMA journal_mode = WAL")
            try database.execute("PRAGMA foreign_keys = ON")
            try database.execute("PRAGMA synchronous = NORMAL")
            try Migrations.apply(to: database)
            return UncheckedBox(database)
        }.value
    }

    deinit {
        thread.stop()
    }

    @discardableResult
    func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T)
        async throws -> T
    {
        let database = UncheckedBox(self.database)
        do {
            return try await thread.run { try body(database.value) }
        } catch let error as SQLiteError where error.isConstraintViolation {
            throw ControlError.conflict("the change conflicts with existing data: \(error.message)")
        } catch let error as SQLiteError {
            throw ControlError.internal("the store failed", cause: error)
        }
    }

    // MARK: Accounts

    public func account(id: String) async throws -> Account? {
        try await run { database in
            try database.query(
                "SELECT id, balance_cents, recovery_email, created_at FROM accounts WHERE id = ?",
                [.text(id)]
            ).first.map(Self.account)
        }
    }

    public func account(keyFingerprint: String) async throws -> (Account, AccountKey)? {
        try await run { database in
            guard
                let keyRow = try database.query(
                    "SELECT \(Self.keyColumns) FROM account_keys WHERE fingerprint = ?",
                    [.text(keyFingerprint)]
                ).first
            else { return nil }
            let key = Self.key(keyRow)
            let accountRow = try database.query(
                "SELECT id, balance_cents, recovery_email, created_at FROM accounts WHERE id = ?",
                [.text(key.accountID)])
            return accountRow.first.map { (Self.account($0), key) }
        }
    }

    public func insertAccount(_ account: Account, key: AccountKey) async throws {
        try await run { database in
            try database.transaction {
                try Self.insert(account, into: database)
                try Self.insert(key, into: database)
            }
        }
    }

    public func keys(accountID: String) async throws -> [AccountKey] {
        try await run { database in
            try database.query(
                "SELECT \(Self.keyColumns) FROM account_keys WHERE account_id = ?"
                    + " ORDER BY created_at, id",
                [.text(accountID)]
            ).map(Self.key)
        }
    }

    private static let keyColumns =
        "id, account_id, algorithm, base64, comment, name, created_at"

    /// Inserts `account`; a nonzero opening balance is recorded as a `grant` in its ledger, so
    /// that the balance stays the ledger's sum.
    static func insert(_ account: Account, into database: SQLiteDatabase) throws {
        try database.query(
            "INSERT INTO accounts (id, balance_cents, recovery_email, created_at)"
                + " VALUES (?, 0, ?, ?)",
            [.text(account.id), .optionalText(account.recoveryEmail), .time(account.createdAt)])
        guard account.balanceCents != 0 else { return }
        let grant = LedgerTransaction(
            accountID: account.id, amountCents: account.balanceCents, kind: .grant,
            createdAt: account.createdAt, description: "welcome credit")
        _ = try insert(grant, into: database)
    }

    static func insert(_ key: AccountKey, into database: SQLiteDatabase) throws {
        try database.query(
            "INSERT INTO account_keys (id, account_id, fingerprint, algorithm, base64, comment,"
                + " name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                .text(key.id), .text(key.accountID), .text(key.publicKey.fingerprint),
                .text(key.publicKey.algorithm), .text(key.publicKey.base64),
                .text(key.publicKey.comment), .text(key.name), .time(key.createdAt),
            ])
    }

    static func account(_ row: [SQLiteValue]) -> Account {
        Account(
            id: row[0].string!, balanceCents: row[1].int!, recoveryEmail: row[2].string,
            createdAt: row[3].date!)
    }

    private static func key(_ row: [SQLiteValue]) -> AccountKey {
        AccountKey(
            id: row[0].string!, accountID: row[1].string!,
            publicKey: SSHPublicKey(
                algorithm: row[2].string!, base64: row[3].string!, comment: row[4].string!),
            name: row[5].string!, createdAt: row[6].date!)
    }
}

/// Carries a value that is confined to the store's thread across the `Sendable` boundary.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
