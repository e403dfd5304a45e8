import Foundation

extension Control {
    /// Sets the account's recovery email and returns the address as stored.
    public func setRecoveryEmail(accountID: String, email: String) async throws -> String {
        let address = try EmailAddress.validate(email)
        try await store.setRecoveryEmail(accountID: accountID, email: address)
        logger.info("recovery email set", ["account": accountID])
        return address
    }

    /// Sends a new API key to every account whose recovery email is `email`.
    ///
    /// Returns the same result whether or not an account has the address, so that callers
    /// cannot find out which addresses are registered. The lookup and the delivery run in a task
    /// of their own after this returns, and their failures are only logged. Each address may
    /// request recovery `recoveryEmailsPerHour` times per hour, whether or not it is registered.
    public func requestRecovery(email: String) async throws {
        guard mailer != nil else {
            throw ControlError.unavailable(
                "account recovery by email is not configured on this server; its operator must set"
                    + " smtp_url")
        }
        let address = try EmailAddress.validate(email)
        if let wait = recoveryLimiter.take(address.lowercased(), now: clock()) {
            let retryAfter = max(1, Int(wait.rounded(.up)))
            throw ControlError.rateLimited(
                "too many recovery requests for \(address); try again in \(retryAfter) s",
                retryAfterSeconds: retryAfter)
        }
        Task {
            await sendRecoveryEmails(to: address)
        }
    }

    /// Issues a recovery API key to each account of `address` and mails it; returns how many
    /// emails were sent.
    @discardableResult
    func sendRecoveryEmails(to address: String) async -> Int {
        guard let mailer else { return 0 }
        let accounts: [Account]
        do {
            accounts = try await store.accounts(recoveryEmail: address)
        } catch {
            logger.error("recovery lookup failed", ["error": "\(error)"])
            return 0
        }
        var sent = 0
        for account in accounts {
            let fields = ["account": account.id]
            do {
                let key = try await issueRecoveryKey(accountID: account.id)
                try await mailer.send(
                    Self.recoveryMessage(to: address, accountID: account.id, apiKey: key))
                sent += 1
                logger.info("recovery email sent", fields)
            } catch {
                logger.error(
                    "recovery email failed", fields.merging(["error": "\(error)"]) { a, _ in a })
            }
        }
        if accounts.isEmpty {
            logger.info("recovery requested for an address with no account", [:])
        }
        return sent
    }

    /// Replaces the account's recovery API key with a new one and returns it.
    ///
    /// The account's other API keys keep working, so that a stranger who learns the address
    /// cannot revoke the owner's key by requesting recovery. `rotate-key` revokes them all.
    private func issueRecoveryKey(accountID: String) async throws -> String {
        let key = Self.newAPIKey()
        try await store.replaceRecoveryAPIKey(
            accountID: accountID, keyHash: Self.hash(apiKey: key), id: RandomID.hex(8),
            createdAt: clock())
        return key
    }

    static func recoveryMessage(to address: String, accountID: String, apiKey: String)
        -> MailMessage
    {
        MailMessage(
            to: address, subject: "Your Particle API key",
            body: """
                Someone, hopefully you, asked for a new API key for Particle account \(accountID).

                API key: \(apiKey)

                Send it as `Authorization: Bearer <key>` to the REST API. Your other API keys still
                work; POST /v1/account/rotate-key revokes all of them and issues a single new one.

                If you did not ask for this, nobody else has this key: it was sent only to this
                address. Rotate your keys if you are unsure.
                """)
    }
}
