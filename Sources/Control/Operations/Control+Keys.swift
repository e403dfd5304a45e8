import Foundation

extension Control {
    static let apiKeyPrefix = "rp_k1_"

    /// Returns the account that API key `apiKey` belongs to; unknown, rotated and malformed
    /// keys are all `.unauthorized`.
    public func account(apiKey: String) async throws -> Account {
        guard apiKey.hasPrefix(Self.apiKeyPrefix), apiKey.count == Self.apiKeyPrefix.count + 40
        else {
            throw ControlError(
                .unauthorized, "invalid API key; keys look like rp_k1_... (get one with `ssh <host> api-key`)")
        }
        guard let account = try await store.account(apiKeyHash: Self.hash(apiKey: apiKey)) else {
            throw ControlError(
                .unauthorized, "unknown or rotated API key; get a new one with `ssh <host> api-key`")
        }
        return account
    }

    /// Issues a new API key for the account and revokes every earlier one; the key is returned
    /// only here and stored only as its hash.
    public func rotateAPIKey(accountID: String) async throws -> String {
        let key = Self.newAPIKey()
        try await store.replaceAPIKey(
            accountID: accountID, keyHash: Self.hash(apiKey: key), id: RandomID.hex(8), createdAt: Date())
        logger.info("api key rotated", ["account": accountID])
        return key
    }

    /// Creates an account for `publicKey` once `signature` proves that the caller has its
    /// private key: an `ssh-keygen -Y sign -n particle` signature over `challenge`.
    ///
    /// Returns the account and its first API key. A key that already has an account is
    /// `.conflict` and gets no API key.
    public func createAccount(publicKey text: String, challenge: String, signature: String)
        async throws -> (Account, apiKey: String)
    {
        let publicKey = try SSHPublicKey(parsing: text)
        try proveHolding(publicKey, challenge: challenge, signature: signature)
        if try await store.account(keyFingerprint: publicKey.fingerprint) != nil {
            throw ControlError.conflict(
                "this SSH key already belongs to an account; use `ssh <host> api-key` to get its API key")
        }

        let now = clock()
        let account = Account(
            id: RandomID.hex(12), balanceCents: configuration.billing.welcomeCreditCents,
            recoveryEmail: nil, createdAt: now)
        let key = AccountKey(
            id: RandomID.hex(8), accountID: account.id, publicKey: publicKey, name: "default", createdAt: now)
        let apiKey = Self.newAPIKey()
        try await store.insertAccount(account, key: key, apiKeyHash: Self.hash(apiKey: apiKey))
        logger.info("account created", ["account": account.id, "key": publicKey.fingerprint, "via": "api"])
        return (account, apiKey)
    }

    /// Adds an SSH key to the account once `signature` proves that the caller has its private key: an
    /// `ssh-keygen -Y sign -n particle` signature over `challenge` (from `challenges.issue()`).
    ///
    /// Without the proof anyone could register someone else's public key and receive that
    /// person's first SSH login into their own account. A key registered to any account is
    /// `.conflict`.
    public func addKey(
        accountID: String, publicKey text: String, name: String?, challenge: String, signature: String
    ) async throws -> AccountKey {
        let publicKey = try SSHPublicKey(parsing: text)
        try proveHolding(publicKey, challenge: challenge, signature: signature)
        let keyName = name ?? (publicKey.comment.isEmpty ? "unnamed" : publicKey.comment)
        guard !keyName.isEmpty, keyName.count <= 64, !keyName.contains(where: \.isNewline) else {
            throw ControlError.invalidArgument("invalid key name '\(keyName)'; use 1-64 characters on one line")
        }
        let key = AccountKey(
            id: RandomID.hex(8), accountID: accountID, publicKey: publicKey, name: keyName, createdAt: Date())
        do {
            try await store.insertKey(key)
        } catch let error as ControlError where error.code == .conflict {
            throw ControlError.conflict("key \(publicKey.fingerprint) is already registered to an account")
        }
        logger.info("key added", ["account": accountID, "key": publicKey.fingerprint])
        return key
    }

    /// Removes key `id` from the account, keeping at least one key so the account stays reachable.
    public func removeKey(accountID: String, id: String) async throws {
        let keys = try await store.keys(accountID: accountID)
        guard keys.contains(where: { $0.id == id }) else {
            throw ControlError.notFound("key '\(id)' not found; run `keys ls` to see your keys")
        }
        guard keys.count > 1 else {
            throw ControlError.conflict("key '\(id)' is the account's only key; add another before removing it")
        }
        _ = try await store.deleteKey(accountID: accountID, id: id)
        logger.info("key removed", ["account": accountID, "key": id])
    }

    /// Checks that `signature` signs `challenge` with `publicKey` in namespace `particle`, then
    /// uses the challenge up.
    ///
    /// A signature over the challenge followed by one newline is accepted too, because a
    /// challenge saved from a terminal or `keys challenge` ends in one.
    func proveHolding(_ publicKey: SSHPublicKey, challenge: String, signature: String) throws {
        try challenges.check(challenge)
        do {
            try SSHSignature.verify(
                armored: signature, publicKey: publicKey, namespace: "particle", message: Array(challenge.utf8))
        } catch let error where error.code == .unauthorized {
            do {
                try SSHSignature.verify(
                    armored: signature, publicKey: publicKey, namespace: "particle",
                    message: Array((challenge + "\n").utf8))
            } catch {
                throw error
            }
        }
        try challenges.redeem(challenge)
    }

    static func newAPIKey() -> String { apiKeyPrefix + RandomID.hex(40) }

    static func hash(apiKey: String) -> String { Digest.hex(Digest.sha256(Array(apiKey.utf8))) }
}
