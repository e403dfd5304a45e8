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

    func particles(accountID: String) async throws -> [Particle]
    func allParticles() async throws -> [Particle]
    func particle(accountID: String, name: String) async throws -> Particle?
    func particle(id: String) async throws -> Particle?
    /// Inserts `particle`, giving it the first address of `pool` that no particle uses.
    func insertParticle(_ particle: Particle, pool: AddressPool) async throws -> Particle
    func updateParticle(_ particle: Particle) async throws
    func deleteParticle(id: String) async throws
}
