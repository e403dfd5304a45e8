/// The numbered schema migrations, applied in order at start; never edit one that has shipped.
enum Migrations {
    static let all: [String] = [
        // 1: accounts, their SSH keys and particles.
        """
        CREATE TABLE accounts (
            id TEXT PRIMARY KEY,
            balance_cents INTEGER NOT NULL DEFAULT 0,
            recovery_email TEXT,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE account_keys (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            fingerprint TEXT NOT NULL UNIQUE,
            algorithm TEXT NOT NULL,
            base64 TEXT NOT NULL,
            comment TEXT NOT NULL,
            name TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX account_keys_account ON account_keys(account_id);
        CREATE TABLE particles (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id),
            name TEXT NOT NULL,
            size TEXT NOT NULL,
            image TEXT NOT NULL,
            status TEXT NOT NULL,
            http_port INTEGER NOT NULL,
            idle_policy TEXT NOT NULL,
            address TEXT NOT NULL UNIQUE,
            custom_domain TEXT UNIQUE,
            created_at INTEGER NOT NULL,
            stopped_at INTEGER,
            status_changed_at INTEGER NOT NULL,
            UNIQUE (account_id, name)
        );
        """,
        // 2: API keys, stored only as SHA-256 hashes.
        """
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            key_hash TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX api_keys_account ON api_keys(account_id);
        """,
        // 3: per-particle idle timeout and weekly schedule.
        """
        ALTER TABLE particles ADD COLUMN idle_timeout_seconds INTEGER NOT NULL DEFAULT 120;
        ALTER TABLE particles ADD COLUMN idle_schedule TEXT;
        """,
        // 4: disk snapshots.
        """
        CREATE TABLE snapshots (
            id TEXT PRIMARY KEY,
            particle_id TEXT NOT NULL REFERENCES particles(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            UNIQUE (particle_id, name)
        );
        """,
        // 5: the ledger, the status intervals that usage is charged from, and recovery keys.
        // Existing balances become opening grants so that every balance is its ledger's sum,
        // and existing particles get an open interval from their last status change.
        """
        CREATE TABLE transactions (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            amount_cents INTEGER NOT NULL,
            type TEXT NOT NULL CHECK (type IN ('topup', 'usage', 'grant')),
            created_at INTEGER NOT NULL,
            reference TEXT UNIQUE,
            description TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX transactions_account ON transactions(account_id, created_at);
        INSERT INTO transactions (id, account_id, amount_cents, type, created_at, description)
            SELECT lower(hex(randomblob(8))), id, balance_cents, 'grant', created_at,
                'opening balance'
            FROM accounts WHERE balance_cents != 0;

        CREATE TABLE usage_intervals (
            id INTEGER PRIMARY KEY,
            particle_id TEXT NOT NULL,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            size TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            ended_at INTEGER,
            charged_until INTEGER NOT NULL
        );
        CREATE INDEX usage_intervals_account ON usage_intervals(account_id, started_at);
        CREATE INDEX usage_intervals_open ON usage_intervals(particle_id) WHERE ended_at IS NULL;
        INSERT INTO usage_intervals (particle_id, account_id, name, size, status, started_at,
                charged_until)
            SELECT id, account_id, name, size, status, status_changed_at, status_changed_at
            FROM particles;
        CREATE TABLE usage_remainders (
            account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
            units INTEGER NOT NULL
        );

        CREATE INDEX accounts_recovery_email ON accounts(recovery_email COLLATE NOCASE);
        ALTER TABLE api_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'primary';
        """,
        // 6: when a sleeping particle's guest has a timer due, to wake it for it.
        """
        ALTER TABLE particles ADD COLUMN wake_at INTEGER;
        """,
        // 7: disk and record changes in progress, which reconciliation finishes after a crash.
        // One per particle: its lock serializes its operations.
        """
        CREATE TABLE pending_operations (
            particle_id TEXT PRIMARY KEY REFERENCES particles(id) ON DELETE CASCADE,
            operation TEXT NOT NULL,
            started_at INTEGER NOT NULL
        );
        """,
        // 8: which guest timer a sleeping particle wakes for, for logs and `why-awake`.
        """
        ALTER TABLE particles ADD COLUMN wake_reason TEXT;
        """,
    ]

    /// Brings `database` to the newest schema, one transaction per migration.
    static func apply(to database: SQLiteDatabase) throws {
        try database.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        let applied = try database.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        let current = Int(applied.first?.first?.int ?? 0)
        guard current <= all.count else {
            throw SQLiteError(
                code: 0,
                message: "the database has schema version \(current), newer than this build's"
                    + " \(all.count); run a newer particled")
        }
        for (index, sql) in all.enumerated().dropFirst(current) {
            try database.transaction {
                try database.execute(sql)
                try database.query(
                    "INSERT INTO schema_migrations (version) VALUES (?)", [.integer(Int64(index + 1))])
            }
        }
    }
}
