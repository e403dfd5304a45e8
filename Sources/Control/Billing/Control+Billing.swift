import Foundation

extension Control {
    /// The smallest top-up, in cents.
    public static let minimumTopUpCents = 1000
    /// The largest top-up, in cents ($999,999.99), which keeps amounts to eight digits.
    ///
    /// NOTE: Stripe's own maximum for a USD payment was not checked here. A lower one makes
    /// Stripe reject the session, and the top-up then fails with 503.
    public static let maximumTopUpCents = 99_999_999

    /// Throws `.paymentRequired` unless the account's balance is positive.
    public func requireBalance(accountID: String) async throws {
        let account = try await account(id: accountID)
        guard account.balanceCents > 0 else {
            throw ControlError.paymentRequired(
                "your balance is \(account.balanceCents) cents; add funds with `topup CENTS`"
                    + " (POST /v1/account/topup, minimum \(Self.minimumTopUpCents) cents) first")
        }
    }

    /// Returns the account's newest transactions, newest first.
    public func history(accountID: String, limit: Int = 100) async throws -> [LedgerTransaction] {
        guard (1...1000).contains(limit) else {
            throw ControlError.invalidArgument("invalid limit \(limit); use 1-1000")
        }
        return try await store.transactions(accountID: accountID, limit: limit)
    }

    /// Returns every account whose balance differs from its ledger's sum, logging each as an
    /// error. An empty result means the ledger and the balances agree.
    public func checkLedger() async throws -> [LedgerDiscrepancy] {
        let discrepancies = try await store.ledgerDiscrepancies()
        for discrepancy in discrepancies {
            logger.error(
                "balance differs from ledger",
                [
                    "account": discrepancy.accountID,
                    "balance_cents": "\(discrepancy.balanceCents)",
                    "ledger_cents": "\(discrepancy.ledgerCents)",
                ])
        }
        return discrepancies
    }

    /// Creates a Stripe Checkout Session that pays `amountCents` into the account and returns
    /// the URL of its payment page. The balance changes only when the paid webhook arrives.
    public func createTopUp(accountID: String, amountCents: Int) async throws -> String {
        guard amountCents >= Self.minimumTopUpCents else {
            throw ControlError.invalidArgument(
                "invalid amount \(amountCents): the minimum top-up is \(Self.minimumTopUpCents) cents"
                    + " ($\(Self.minimumTopUpCents / 100))")
        }
        guard amountCents <= Self.maximumTopUpCents else {
            throw ControlError.invalidArgument(
                "maximum top-up is \(Self.maximumTopUpCents) cents; split larger payments")
        }
        guard let payments else {
            throw ControlError.unavailable(
                "top-ups are not configured on this server; its operator must set stripe_secret_key"
            )
        }
        let request = CheckoutRequest(
            accountID: accountID, amountCents: amountCents, currency: "usd",
            productName: "Particle balance top-up",
            successURL: configuration.billing.checkoutSuccessURL,
            cancelURL: configuration.billing.checkoutCancelURL)
        let fields = ["account": accountID, "amount_cents": "\(amountCents)"]
        let session: CheckoutSession
        do {
            session = try await payments.createCheckoutSession(request)
        } catch {
            throw controlError(error, operation: "topup", fields)
        }
        logger.info(
            "checkout session created", fields.merging(["session": session.id]) { a, _ in a })
        return session.url
    }
}
