import Foundation

/// Persistent state of accounts, keys and particles.
///
/// SQLite is the embedded implementation; the protocol lets a server database replace it.
/// Methods throw `ControlError`: `.conflict` when a uniqueness rule rejects a write.
public protocol Store: Sendable {
    func account(id: String) async throws -> Account?
    /// Finds the account that owns the key with `fingerprint`, with that key.
    func account(keyFingerprint: String) async throws -> (Account, AccountKey)?
    /// Inserts a new account together with its first key.
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
    /// Inserts `particle`, giving it the first address of `pool` that no particle uses.
    func insertParticle(_ particle: Particle, pool: AddressPool) async throws -> Particle
    func updateParticle(_ particle: Particle) async throws
    func deleteParticle(id: String) async throws

    func snapshots(particleID: String) async throws -> [Snapshot]
    /// The number of snapshots of all the account's particles.
    func snapshotCount(accountID: String) async throws -> Int
    /// Inserts a snapshot; `.conflict` if the particle has one of that name.
    func insertSnapshot(_ snapshot: Snapshot) async throws
    func deleteSnapshot(id: String) async throws
}
