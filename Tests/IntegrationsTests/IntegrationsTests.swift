import Control
import Foundation
import Support
import Testing

@testable import Integrations

@Suite struct IntegrationsTests {
    @Test func formEncodingEscapes() {
        #expect(FormEncoding.escape("line_items[0][name]") == "line_items%5B0%5D%5Bname%5D")
        #expect(FormEncoding.escape("a b&c=d/é") == "a+b%26c%3Dd%2F%C3%A9")
        #expect(FormEncoding.encode([("mode", "payment"), ("x", "1")]) == "mode=payment&x=1")
    }

    @Test func unreachableStripeIsUnavailable() async throws {
        // Nothing listens on port 1 of the loopback address, so the connection is refused.
        let stripe = StripeCheckout(
            apiBase: "http://127.0.0.1:1", secretKey: "sk_test_unused",
            logger: Logger(label: "test"))
        let request = CheckoutRequest(
            accountID: "a1b2c3d4e5f6", amountCents: 2500, currency: "usd", productName: "top-up",
            successURL: "https://example.com/paid", cancelURL: "https://example.com/cancelled")
        await #expect(
            throws: ControlError.unavailable("cannot reach the payment provider; try again later")
        ) {
            try await stripe.createCheckoutSession(request)
        }
    }

    @Test func unreachableRelayFails() async throws {
        let mailer = SMTPMailer(url: "smtp://127.0.0.1:1", from: "particle@example.com")
        let message = MailMessage(to: "you@example.com", subject: "hello", body: "text")
        await #expect(throws: CurlError.self) { try await mailer.send(message) }
    }

    @Test func mailHasHeadersAndCRLF() {
        let message = MailMessage(
            to: "you@example.com", subject: "Your key", body: "line one\nline two")
        let date = Date(timeIntervalSince1970: 1_773_144_000)
        let text = SMTPMailer.format(message, from: "particle@example.com", date: date)
        #expect(
            text.hasPrefix(
                "Date: Tue, 10 Mar 2026 12:00:00 +0000\r\nFrom: particle@example.com\r\n"))
        #expect(text.contains("\r\nTo: you@example.com\r\nSubject: Your key\r\n"))
        #expect(text.hasSuffix("\r\n\r\nline one\r\nline two\r\n"))
    }
}
