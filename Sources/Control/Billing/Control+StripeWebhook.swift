import Foundation

/// The result of one Stripe webhook event.
public enum StripeWebhookOutcome: Sendable, Equatable {
    /// A paid Checkout Session was credited with this transaction.
    case credited(LedgerTransaction)
    /// The session was credited before; Stripe retried or re-sent the event.
    case duplicate(sessionID: String)
    /// The event needs nothing from Particle; the reason is for logs.
    case ignored(String)
}

extension Control {
    /// Verifies a Stripe webhook delivery and credits a paid Checkout Session exactly once.
    ///
    /// `payload` is the raw request body, which the signature covers. A missing or wrong
    /// signature or a body that is not an event is `.invalidArgument`. Events other than a
    /// completed, paid session are ignored, so that Stripe stops retrying them.
    public func receiveStripeWebhook(payload: [UInt8], signatureHeader: String?) async throws
        -> StripeWebhookOutcome
    {
        guard let secret = configuration.billing.stripeWebhookSecret else {
            throw ControlError.unavailable(
                "Stripe webhooks are not configured on this server; its operator must set"
                    + " stripe_webhook_secret")
        }
        try StripeSignature.verify(
            header: signatureHeader, payload: payload, secret: secret, now: clock())
        guard let event = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
            let type = event["type"] as? String
        else {
            throw ControlError.invalidArgument(
                "invalid Stripe event: the body is not an event object")
        }
        // Delayed payment methods complete the session unpaid and send the second event when paid.
        guard
            type == "checkout.session.completed"
                || type == "checkout.session.async_payment_succeeded"
        else {
            return .ignored("event type \(type)")
        }
        let session = (event["data"] as? [String: Any])?["object"] as? [String: Any] ?? [:]
        return try await creditCheckoutSession(session, eventID: event["id"] as? String ?? "")
    }

    private func creditCheckoutSession(_ session: [String: Any], eventID: String) async throws
        -> StripeWebhookOutcome
    {
        guard let sessionID = session["id"] as? String, !sessionID.isEmpty else {
            throw ControlError.invalidArgument("invalid Stripe event: the session has no id")
        }
        var fields = ["event": eventID, "session": sessionID]
        guard session["payment_status"] as? String == "paid" else {
            return .ignored("session \(sessionID) is not paid")
        }
        let metadata = session["metadata"] as? [String: Any] ?? [:]
        guard
            let accountID = metadata["account_id"] as? String ?? session["client_reference_id"]
                as? String,
            let number = session["amount_total"] as? NSNumber,
            Double(number.int64Value) == number.doubleValue, number.int64Value > 0,
            session["currency"] as? String == "usd"
        else {
            logger.error("paid session not credited: no account, amount or usd currency", fields)
            return .ignored(
                "session \(sessionID) names no account, positive amount or usd currency")
        }
        let amount = number.int64Value
        fields["account"] = accountID
        guard try await store.account(id: accountID) != nil else {
            logger.error("paid session not credited: unknown account", fields)
            return .ignored("session \(sessionID) names unknown account \(accountID)")
        }

        let transaction = LedgerTransaction(
            accountID: accountID, amountCents: amount, kind: .topup, createdAt: clock(),
            reference: sessionID, description: "Stripe Checkout Session \(sessionID)")
        guard try await store.insertTransaction(transaction) else {
            logger.info("paid session already credited", fields)
            return .duplicate(sessionID: sessionID)
        }
        logger.info("top-up credited", fields.merging(["amount_cents": "\(amount)"]) { a, _ in a })
        return .credited(transaction)
    }
}
