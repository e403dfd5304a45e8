import Foundation
import Testing

@testable import Control

@Suite struct RecoveryTests {
    @Test(arguments: [
        "you@example.com", "first.last+tag@mail.example.co.uk", " padded@example.com ",
    ])
    func emailAccepted(_ address: String) throws {
        #expect(try EmailAddress.validate(address) == address.trimmingCharacters(in: .whitespaces))
    }

    @Test(arguments: [
        "", "no-at-sign", "two@@example.com", "a@b@example.com", "you@localhost", "you@-bad.com",
        ".you@example.com", "you..me@example.com", "you@example.com\r\nBcc: x@example.com",
        "you me@example.com", "<you>@example.com", "you@exa_mple.com",
        String(repeating: "a", count: 65) + "@example.com",
    ])
    func emailRejected(_ address: String) {
        #expect(throws: ControlError.self, "\(address.debugDescription)") {
            try EmailAddress.validate(address)
        }
    }

    @Test func emailErrorNamesAddress() {
        #expect(
            throws: ControlError.invalidArgument(
                "invalid email 'you@localhost': 'localhost' is not a valid domain name;"
                    + " use an address like you@example.com")
        ) {
            try EmailAddress.validate("you@localhost")
        }
    }

    @Test func recoverySendsWorkingKey() async throws {
        let fixture = try BillingFixture()
        defer { fixture.remove() }
        let control = fixture.control
        let owner = try await fixture.account()
        let primary = try await control.rotateAPIKey(accountID: owner)
        #expect(
            try await control.setRecoveryEmail(accountID: owner, email: "Owner@Example.com")
                == "Owner@Example.com")

        try await control.requestRecovery(email: "owner@example.com")
        let messages = try await fixture.mailer.waitForMessages(1)
        try #require(messages.count == 1)
        #expect(messages[0].to == "owner@example.com")
        let key = try #require(
            messages[0].body.firstMatch(of: /rp_k1_[0-9a-f]{40}/).map { String($0.output) })
        #expect(try await control.account(apiKey: key).id == owner)
        // The owner's own key keeps working: recovery adds a key instead of rotating.
        #expect(try await control.account(apiKey: primary).id == owner)

        // A second recovery replaces the first recovery key.
        try await control.requestRecovery(email: "owner@example.com")
        let second = try await fixture.mailer.waitForMessages(2)
        try #require(second.count == 2)
        await #expect(throws: ControlError.self) { try await control.account(apiKey: key) }
    }

    @Test func unknownAddressSendsNothing() async throws {
        let fixture = try BillingFixture()
        defer { fixture.remove() }
        try await fixture.control.requestRecovery(email: "nobody@example.com")
        #expect(await fixture.control.sendRecoveryEmails(to: "nobody@example.com") == 0)
        #expect(fixture.mailer.messages.value.isEmpty)
    }

    @Test func recoveryIsRateLimited() async throws {
        let fixture = try BillingFixture()
        defer { fixture.remove() }
        let control = fixture.control
        for _ in 0..<3 {
            try await control.requestRecovery(email: "someone@example.com")
        }
        await #expect {
            try await control.requestRecovery(email: "SOMEONE@example.com")
        } throws: { error in
            let error = error as? ControlError
            // Three per hour refill one request every 20 minutes.
            return error?.code == .rateLimited && error?.retryAfterSeconds == 1200
        }
        try await control.requestRecovery(email: "other@example.com")
        fixture.clock.advance(seconds: 1201)
        try await control.requestRecovery(email: "someone@example.com")
    }

    @Test func recoveryUnavailableWithoutSMTP() async throws {
        let fixture = try BillingFixture(withProviders: false)
        defer { fixture.remove() }
        await #expect {
            try await fixture.control.requestRecovery(email: "someone@example.com")
        } throws: { error in
            (error as? ControlError)?.code == .unavailable
        }
    }
}
