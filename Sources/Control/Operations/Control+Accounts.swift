import Foundation

extension Control {
    /// Finds the account that owns `key`, creating one on first contact.
    ///
    /// Returns the account and whether it was created now.
    public func account(forSSHKey key: SSHPublicKey) async throws -> (Account, created: Bool) {
        if let (account, _) = try await store.account(keyFingerprint: key.fingerprint) {
            return (account, false)
        }
        let now = clock()
        let account = Account(
            id: RandomID.hex(12), balanceCents: configuration.billing.welcomeCreditCents,
            recoveryEmail: nil, createdAt: now)
        let accountKey = AccountKey(
            id: RandomID.hex(8), accountID: account.id, publicKey: key, name: "default",
            createdAt: now)
        do {
            try await store.insertAccount(account, key: accountKey)
        } catch let error as ControlError where error.code == .conflict {
            // Another session registered the same key a moment ago: use its account.
            if let (existing, _) = try await store.account(keyFingerprint: key.fingerprint) {
                return (existing, false)
            }
            throw error
        }
        logger.info(
            "account created", ["account": account.id, "key": key.fingerprint])
        return (account, true)
    }

    /// Returns the account with `id`, or a not-found error.
    public func account(id: String) async throws -> Account {
        guard let account = try await store.account(id: id) else {
            throw ControlError.notFound("account '\(id)' not found")
        }
        return account
    }

    public func keys(accountID: String) async throws -> [AccountKey] {
        try await store.keys(accountID: accountID)
    }
}
