import Foundation
import Testing

@testable import Control

@Suite struct StripeWebhookTests {
    static let secret = BillingFixture.webhookSecret

    static func event(
        type: String = "checkout.session.completed", session: String = "cs_test_a",
        account: String, amount: Int = 2500, paymentStatus: String = "paid"
    ) -> [UInt8] {
        let text = """
            {"id": "evt_1", "type": "\(type)", "data": {"object": {"id": "\(session)",
            "object": "checkout.session", "payment_status": "\(paymentStatus)",
            "amount_total": \(amount), "currency": "usd", "client_reference_id": "\(account)",
            "metadata": {"account_id": "\(account)"}}}}
            """
        return Array(text.utf8)
    }

    static func header(_ payload: [UInt8], at time: Date, secret: String = secret) -> String {
        let timestamp = Int64(time.timeIntervalSince1970)
        return
            "t=\(timestamp),v1=\(StripeSignature.signature(payload: payload, secret: secret, timestamp: timestamp))"
    }

    @Test func signatureAcceptsGood() throws {
        let payload = Array("{}".utf8)
        let now = Date()
        try StripeSignature.verify(
            header: Self.header(payload, at: now), payload: payload, secret: Self.secret, now: now)
    }

    @Test func signatureAcceptsAnyV1() throws {
        let payload = Array("{}".utf8)
        let now = Date()
        let timestamp = Int64(now.timeIntervalSince1970)
        let good = StripeSignature.signature(
            payload: payload, secret: Self.secret, timestamp: timestamp)
        let header = "t=\(timestamp),v1=\(String(repeating: "0", count: 64)),v0=abc,v1=\(good)"
        try StripeSignature.verify(header: header, payload: payload, secret: Self.secret, now: now)
    }

    @Test(arguments: [
        ("missing", nil as String?),
        ("no timestamp", "v1=00"),
        ("no v1", "t=1773144000,v0=00"),
        ("wrong secret", "wrong"),
        ("other payload", "payload"),
    ])
    func signatureRejects(_ name: String, _ header: String?) throws {
        let payload = Array(#"{"type": "x"}"#.utf8)
        let now = Date(timeIntervalSince1970: 1_773_144_000)
        let sent: String? =
            switch header {
            case "wrong": Self.header(payload, at: now, secret: "whsec_other")
            case "payload": Self.header(Array("{}".utf8), at: now)
            default: header
            }
        #expect(throws: ControlError.self, "\(name)") {
            try StripeSignature.verify(
                header: sent, payload: payload, secret: Self.secret, now: now)
        }
    }

    @Test func signatureRejectsStale() throws {
        let payload = Array("{}".utf8)
        let signedAt = Date(timeIntervalSince1970: 1_773_144_000)
        let header = Self.header(payload, at: signedAt)
        try StripeSignature.verify(
            header: header, payload: payload, secret: Self.secret,
            now: signedAt.addingTimeInterval(300))
        #expect(throws: ControlError.self) {
            try StripeSignature.verify(
                header: header, payload: payload, secret: Self.secret,
                now: signedAt.addingTimeInterval(301))
        }
        #expect(throws: ControlError.self) {
            try StripeSignature.verify(
                header: header, payload: payload, secret: Self.secret,
                now: signedAt.addingTimeInterval(-301))
        }
    }

    @Test func paidSessionCreditedOnce() async throws {
        let fixture = try BillingFixture()
        defer { fixture.remove() }
        let owner = try await fixture.account()
        let payload = Self.event(account: owner)
        let header = Self.header(payload, at: fixture.clock.now)

        let first = try await fixture.control.receiveStripeWebhook(
            payload: payload, signatureHeader: header)
        guard case .credited(let transaction) = first else {
            Issue.record("expected a credit, got \(first)")
            return
        }
        #expect(transaction.amountCents == 2500)
        #expect(transaction.kind == .topup)
        #expect(transaction.reference == "cs_test_a")

        let retry = try await fixture.control.receiveStripeWebhook(
            payload: payload, signatureHeader: header)
        #expect(retry == .duplicate(sessionID: "cs_test_a"))
        let asyncPaid = Self.event(type: "checkout.session.async_payment_succeeded", account: owner)
        let late = try await fixture.control.receiveStripeWebhook(
            payload: asyncPaid, signatureHeader: Self.header(asyncPaid, at: fixture.clock.now))
        #expect(late == .duplicate(sessionID: "cs_test_a"))

        #expect(try await fixture.balance(owner) == 2500)
        #expect(try await fixture.control.history(accountID: owner).count == 1)
        #expect(try await fixture.control.checkLedger().isEmpty)
    }

    @Test func otherEventsIgnored() async throws {
        let fixture = try BillingFixture()
        defer { fixture.remove() }
        let owner = try await fixture.account()
        let payloads = [
            Self.event(type: "customer.created", account: owner),
            Self.event(session: "cs_test_unpaid", account: owner, paymentStatus: "unpaid"),
            Self.event(session: "cs_test_nobody", account: "000000000000"),
            Self.event(session: "cs_test_zero", account: owner, amount: 0),
        ]
        for payload in payloads {
            let outcome = try await fixture.control.receiveStripeWebhook(
                payload: payload, signatureHeader: Self.header(payload, at: fixture.clock.now))
            guard case .ignored = outcome else {
                Issue.record("expected the event to be ignored, got \(outcome)")
                continue
            }
        }
        #expect(try await fixture.balance(owner) == 0)
    }

    @Test func badSignatureCreditsNothing() async throws {
        let fixture = try BillingFixture()
        defer { fixture.remove() }
        let owner = try await fixture.account()
        let payload = Self.event(account: owner)
        let forged = Self.header(payload, at: fixture.clock.now, secret: "whsec_forged")
        await #expect {
            try await fixture.control.receiveStripeWebhook(
                payload: payload, signatureHeader: forged)
        } throws: { error in
            (error as? ControlError)?.code == .invalidArgument
        }
        #expect(try await fixture.balance(owner) == 0)
    }
}
