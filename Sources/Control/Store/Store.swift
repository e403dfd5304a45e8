import Foundation

/// Persistent state of accounts, keys and particles.
///
/// SQLite is the embedded implementation; the protocol lets a server database replace it.
/// Methods throw `ControlError`: `.conflict` when a uniqueness rule rejects a write.
public protocol Store: Sendable {
    func account(id: String) async throws -> Account?
    /// Finds the account that owns the key with `fingerprint`, with that key.
    func account(keyFingerprint: String) async throws -> (Account, AccountKey)?
    /// Inserts a new account together with its first key. A nonzero `balanceCents` is recorded
    /// as a `grant` in the ledger.
    func insertAccount(_ account: Account, key: AccountKey) async throws
    func keys(accountID: String) async throws -> [AccountKey]
    /// Adds a key to an existing account; `.conflict` if any account has it already.
    func insertKey(_ key: AccountKey) async throws
    /// Removes key `id` of the account; returns whether it existed.
    func deleteKey(accountID: String, id: String) async throws -> Bool

    /// Returns the account whose API key has the SHA-256 hash `keyHash` (hex).
    func account(apiKeyHash: String) async throws -> Account?
    /// Makes `keyHash` the account's only API key, revoking every earlier one.
    func replaceAPIKey(accountID: String, keyHash: String, id: String, createdAt: Date) async throws
    /// Inserts a new account with its first SSH key and its first API key, in one transaction.
    func insertAccount(_ account: Account, key: AccountKey, apiKeyHash: String) async throws

    func particles(accountID: String) async throws -> [Particle]
    func allParticles() async throws -> [Particle]
    func particle(accountID: String, name: String) async throws -> Particle?
    func particle(id: String) async throws -> Particle?
    func particle(customDomain: String) async throws -> Particle?
    /// Inserts `particle`, giving it the first address of `pool` that no particle uses, and opens
    /// its first usage interval at `particle.statusChangedAt`.
    func insertParticle(_ particle: Particle, pool: AddressPool) async throws -> Particle
    /// Writes `particle`, and records a status or size change as a new usage interval that
    /// starts at `particle.statusChangedAt`, in the same transaction.
    func updateParticle(_ particle: Particle) async throws
    func snapshots(particleID: String) async throws -> [Snapshot]
    /// Returns the number of snapshots of all the account's particles.
    func snapshotCount(accountID: String) async throws -> Int
    /// Inserts a snapshot; `.conflict` if the particle has one of that name.
    func insertSnapshot(_ snapshot: Snapshot) async throws
    func deleteSnapshot(id: String) async throws

    /// Removes the particle and closes its open usage interval at `at`.
    func deleteParticle(id: String, at: Date) async throws

    /// Records that an operation on a particle has begun; `.conflict` if one is still pending.
    func beginOperation(_ record: PendingOperationRecord) async throws
    /// Clears the particle's pending operation, if any.
    func endOperation(particleID: String) async throws
    /// Returns the operations that began and did not end, oldest first. Deleting a particle
    /// clears its own.
    func pendingOperations() async throws -> [PendingOperationRecord]

    // MARK: Billing

    /// Appends `transaction` to the ledger and adds its amount to the account's balance, in one
    /// transaction. Returns false, changing nothing, when its reference is already recorded.
    func insertTransaction(_ transaction: LedgerTransaction) async throws -> Bool
    /// Returns the account's newest `limit` transactions, newest first.
    func transactions(accountID: String, limit: Int) async throws -> [LedgerTransaction]
    /// Returns every account whose balance differs from the sum of its ledger.
    func ledgerDiscrepancies() async throws -> [LedgerDiscrepancy]
    /// Charges every account for the uncharged time of its usage intervals up to `now`.
    ///
    /// Posts one `usage` transaction per account with whole cents due, carrying the fraction of
    /// a cent to the next posting, and marks the time charged, all in one transaction. Returns
    /// the transactions posted.
    func postUsage(until now: Date, rates: UsageRates) async throws -> [LedgerTransaction]
    /// Returns the account's usage intervals that overlap `start..<end`, oldest first.
    func usageIntervals(accountID: String, from start: Date, to end: Date) async throws
        -> [UsageInterval]

    // MARK: Recovery

    func setRecoveryEmail(accountID: String, email: String?) async throws
    /// Returns the accounts whose recovery email is `email`, compared case-insensitively.
    func accounts(recoveryEmail email: String) async throws -> [Account]
    /// Replaces the account's recovery API key, if any, with `keyHash`; its other API keys stay.
    func replaceRecoveryAPIKey(accountID: String, keyHash: String, id: String, createdAt: Date)
        async throws
}

extension Store {
    /// Removes the particle, closing its usage at the current time.
    public func deleteParticle(id: String) async throws {
        try await deleteParticle(id: id, at: Date())
    }
}
