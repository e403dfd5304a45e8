import COpenSSL
import Foundation
import Support
import Testing

/// Top-ups, the Stripe webhook, usage and recovery email over REST against a running particled,
/// with local stand-ins for Stripe's API and for an SMTP relay.
@Suite(.serialized) struct BillingTests {
    static let secretKey = "sk_test_e2e"
    static let webhookSecret = "whsec_e2e"

    @Test func topUpWebhookAndRecovery() throws {
        let stripe = try StripeStandIn()
        defer { stripe.stop() }
        let smtp = try SMTPStandIn()
        defer { smtp.stop() }
        let harness = try ParticledHarness()
        defer { harness.stop() }
        let config = harness.directory.appendingPathComponent("config.json")
        try jsonText([
            "stripe_api_base": stripe.baseURL, "stripe_secret_key": Self.secretKey,
            "stripe_webhook_secret": Self.webhookSecret,
            "checkout_success_url": "https://example.com/paid",
            "checkout_cancel_url": "https://example.com/cancelled",
            "smtp_url": smtp.url, "smtp_from": "particle@particle.localhost",
        ]).write(to: config, atomically: true, encoding: .utf8)
        try harness.start(extraArguments: ["--config", config.path])

        let created = try harness.createAccount(keyPath: harness.keyPath)
        try #require(created.status == 201, "create account: \(created.body)")
        let accountID = try #require(try created.object()["account_id"] as? String)
        let key = try #require(try created.object()["api_key"] as? String)

        let sessionID = try checkTopUp(harness, stripe: stripe, key: key, accountID: accountID)
        try checkWebhook(harness, key: key, accountID: accountID, sessionID: sessionID)
        try checkUsage(harness, key: key)
        try checkRecovery(harness, smtp: smtp, key: key, accountID: accountID)
    }

    /// Returns the id of the Checkout Session that the stand-in created.
    private func checkTopUp(
        _ harness: ParticledHarness, stripe: StripeStandIn, key: String, accountID: String
    )
        throws -> String
    {
        let small = try harness.api(
            "POST", "/v1/account/topup", key: key, json: #"{"amount": 999}"#)
        #expect(small.status == 422)
        #expect(small.errorMessage == "invalid amount 999: the minimum top-up is 1000 cents ($10)")
        for body in [#"{"amount": 2500.5}"#, #"{"amount": "2500"}"#, #"{}"#] {
            let malformed = try harness.api("POST", "/v1/account/topup", key: key, json: body)
            #expect(malformed.status == 400, "body \(body)")
        }
        #expect(
            try harness.api("POST", "/v1/account/topup", json: #"{"amount": 2500}"#).status == 401)
        #expect(stripe.requests.value.isEmpty)

        let topUp = try harness.api(
            "POST", "/v1/account/topup", key: key, json: #"{"amount": 2500}"#)
        try #require(topUp.status == 200, "topup: \(topUp.body)\n\(harness.log.suffix(2000))")
        #expect(
            try topUp.object()["url"] as? String
                == "https://checkout.stripe.com/c/pay/cs_test_standin1")

        let request = try #require(stripe.requests.value.first)
        #expect(request.method == "POST")
        #expect(request.path == "/v1/checkout/sessions")
        #expect(request.headers["authorization"] == "Bearer \(Self.secretKey)")
        #expect(request.headers["content-type"] == "application/x-www-form-urlencoded")
        let form = request.form
        #expect(form["mode"] == "payment")
        #expect(form["line_items[0][price_data][currency]"] == "usd")
        #expect(form["line_items[0][price_data][unit_amount]"] == "2500")
        #expect(form["line_items[0][quantity]"] == "1")
        #expect(form["line_items[0][price_data][product_data][name]"] == "Particle balance top-up")
        #expect(form["success_url"] == "https://example.com/paid")
        #expect(form["cancel_url"] == "https://example.com/cancelled")
        #expect(form["client_reference_id"] == accountID)
        #expect(form["metadata[account_id]"] == accountID)
        #expect(!harness.log.contains(Self.secretKey))
        return "cs_test_standin1"
    }

    private func checkWebhook(
        _ harness: ParticledHarness, key: String, accountID: String, sessionID: String
    ) throws {
        let event = """
            {"id": "evt_e2e", "type": "checkout.session.completed", "data": {"object": {"id": "\(sessionID)", \
            "object": "checkout.session", "payment_status": "paid", "amount_total": 2500, "currency": "usd", \
            "client_reference_id": "\(accountID)", "metadata": {"account_id": "\(accountID)"}}}}
            """
        let now = Int(Date().timeIntervalSince1970)
        let signature =
            "Stripe-Signature: t=\(now),v1=\(Self.hmac(Self.webhookSecret, "\(now).\(event)"))"

        let paid = try harness.api("POST", "/v1/stripe/webhook", json: event, headers: [signature])
        #expect(paid.status == 200, "webhook: \(paid.body)")
        #expect(
            try harness.api("GET", "/v1/account", key: key).object()["balance_cents"] as? Int
                == 2500)

        let retried = try harness.api(
            "POST", "/v1/stripe/webhook", json: event, headers: [signature])
        #expect(retried.status == 200)
        #expect(
            try harness.api("GET", "/v1/account", key: key).object()["balance_cents"] as? Int
                == 2500)

        let forged = "Stripe-Signature: t=\(now),v1=\(Self.hmac("whsec_forged", "\(now).\(event)"))"
        let stale =
            "Stripe-Signature: t=\(now - 600),v1=\(Self.hmac(Self.webhookSecret, "\(now - 600).\(event)"))"
        for header in [[forged], [stale], []] {
            let rejected = try harness.api(
                "POST", "/v1/stripe/webhook", json: event, headers: header)
            #expect(rejected.status == 400, "headers \(header): \(rejected.body)")
        }
        #expect(
            try harness.api("GET", "/v1/account", key: key).object()["balance_cents"] as? Int
                == 2500)

        let history = try harness.api("GET", "/v1/account/history", key: key)
        #expect(history.status == 200)
        let transactions = try #require(try history.object()["transactions"] as? [[String: Any]])
        try #require(transactions.count == 1, "history: \(history.body)")
        #expect(transactions[0]["amount_cents"] as? Int == 2500)
        #expect(transactions[0]["type"] as? String == "topup")
        #expect(transactions[0]["created_at"] is String)
        #expect(Set(transactions[0].keys) == ["id", "amount_cents", "type", "created_at"])
    }

    private func checkUsage(_ harness: ParticledHarness, key: String) throws {
        let usage = try harness.api("GET", "/v1/account/usage", key: key)
        #expect(usage.status == 200, "usage: \(usage.body)")
        let report = try usage.object()
        #expect(report["period"] as? String == "month")
        #expect(report["start"] is String)
        #expect(report["end"] is String)
        #expect(report["total_cents"] as? Int == 0)
        #expect((report["particles"] as? [Any])?.isEmpty == true)
        #expect(try harness.api("GET", "/v1/account/usage?period=day", key: key).status == 200)
        let bad = try harness.api("GET", "/v1/account/usage?period=year", key: key)
        #expect(bad.status == 422)
        #expect(bad.errorMessage.contains("year"))
    }

    private func checkRecovery(
        _ harness: ParticledHarness, smtp: SMTPStandIn, key: String, accountID: String
    ) throws {
        let invalid = try harness.api(
            "PUT", "/v1/account/email", key: key, json: #"{"email": "not-an-address"}"#)
        #expect(invalid.status == 422)
        #expect(invalid.errorMessage.contains("not-an-address"))
        let set = try harness.api(
            "PUT", "/v1/account/email", key: key, json: #"{"email": "owner@example.com"}"#)
        #expect(set.status == 200)
        #expect(try set.object()["email"] as? String == "owner@example.com")
        let account = try harness.api("GET", "/v1/account", key: key).object()
        #expect(account["recovery_email"] as? String == "owner@example.com")

        // An unknown address gets the same response and no email.
        let unknown = try harness.api(
            "POST", "/v1/account/recover", json: #"{"email": "nobody@example.com"}"#)
        #expect(unknown.status == 200)
        #expect(try unknown.object()["message"] as? String == "Recovery email sent")

        let recover = try harness.api(
            "POST", "/v1/account/recover", json: #"{"email": "owner@example.com"}"#)
        #expect(recover.status == 200)
        #expect(try recover.object()["message"] as? String == "Recovery email sent")
        let messages = smtp.waitForMessages(1)
        try #require(
            messages.count == 1, "no recovery email arrived; log:\n\(harness.log.suffix(2000))")
        #expect(messages[0].recipients == ["<owner@example.com>"])
        #expect(messages[0].from.contains("particle@particle.localhost"))
        #expect(messages[0].data.contains("To: owner@example.com"))
        #expect(messages[0].data.contains(accountID))
        let mailedKey = try #require(
            messages[0].data.firstMatch(of: /rp_k1_[0-9a-f]{40}/).map { String($0.output) })
        let recovered = try harness.api("GET", "/v1/account", key: mailedKey)
        #expect(recovered.status == 200)
        #expect(try recovered.object()["id"] as? String == accountID)
        #expect(try harness.api("GET", "/v1/account", key: key).status == 200)
        #expect(!harness.log.contains(mailedKey))

        // Three requests per address per hour; the fourth is refused with Retry-After.
        let ownerBody = #"{"email": "owner@example.com"}"#
        for _ in 0..<2 {
            #expect(try harness.api("POST", "/v1/account/recover", json: ownerBody).status == 200)
        }
        let limited = try harness.api("POST", "/v1/account/recover", json: ownerBody)
        #expect(limited.status == 429)
        #expect(limited.header("Retry-After").flatMap { Int($0) } != nil)
        #expect(smtp.waitForMessages(3).count == 3)
    }

    /// Returns the lowercase hex HMAC-SHA256 of `message` keyed with `key`, as Stripe signs.
    static func hmac(_ key: String, _ message: String) -> String {
        let keyBytes = Array(key.utf8)
        let messageBytes = Array(message.utf8)
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        HMAC(
            EVP_sha256(), keyBytes, Int32(keyBytes.count), messageBytes, messageBytes.count,
            &digest, &length)
        return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }
}
