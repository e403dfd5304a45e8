import Foundation
import Testing

@testable import Control

@Suite struct LedgerTests {
    @Test func welcomeCreditIsGrant() async throws {
        let fixture = try BillingFixture { $0.welcomeCreditCents = 500 }
        defer { fixture.remove() }
        let owner = try await fixture.account()
        #expect(try await fixture.balance(owner) == 500)
        let history = try await fixture.control.history(accountID: owner)
        #expect(history.count == 1)
        #expect(history.first?.kind == .grant)
        #expect(history.first?.amountCents == 500)
        #expect(try await fixture.control.checkLedger().isEmpty)
    }

    @Test func balanceFollowsLedger() async throws {
        let fixture = try BillingFixture()
        defer { fixture.remove() }
        let owner = try await fixture.account()
        let other = try await fixture.account(seed: 2)
        for amount: Int64 in [2500, -30, 1000, -7] {
            let transaction = LedgerTransaction(
                accountID: owner, amountCents: amount, kind: amount > 0 ? .topup : .usage,
                createdAt: fixture.clock.now)
            #expect(try await fixture.store.insertTransaction(transaction))
            fixture.clock.advance(seconds: 1)
        }
        #expect(try await fixture.balance(owner) == 3463)
        #expect(try await fixture.balance(other) == 0)
        #expect(try await fixture.control.checkLedger().isEmpty)

        let history = try await fixture.control.history(accountID: owner)
        #expect(history.map(\.amountCents) == [-7, 1000, -30, 2500])
        #expect(try await fixture.control.history(accountID: other).isEmpty)
    }

    @Test func checkFindsTamperedBalance() async throws {
        let fixture = try BillingFixture()
        defer { fixture.remove() }
        let owner = try await fixture.account()
        let topup = LedgerTransaction(
            accountID: owner, amountCents: 1200, kind: .topup, createdAt: fixture.clock.now)
        #expect(try await fixture.store.insertTransaction(topup))
        try await fixture.store.run { database in
            try database.query(
                "UPDATE accounts SET balance_cents = 99999 WHERE id = ?", [.text(owner)])
        }
        let discrepancies = try await fixture.control.checkLedger()
        #expect(
            discrepancies == [
                LedgerDiscrepancy(accountID: owner, balanceCents: 99999, ledgerCents: 1200)
            ])
    }

    @Test func referenceCreditsOnce() async throws {
        let fixture = try BillingFixture()
        defer { fixture.remove() }
        let owner = try await fixture.account()
        let first = LedgerTransaction(
            accountID: owner, amountCents: 2500, kind: .topup, createdAt: fixture.clock.now,
            reference: "cs_test_a")
        var again = first
        again.id = "0000000000000000"
        #expect(try await fixture.store.insertTransaction(first))
        #expect(try await fixture.store.insertTransaction(again) == false)
        #expect(try await fixture.balance(owner) == 2500)
        #expect(try await fixture.control.history(accountID: owner).count == 1)
    }

    @Test func historyRejectsBadLimit() async throws {
        let fixture = try BillingFixture()
        defer { fixture.remove() }
        let owner = try await fixture.account()
        await #expect(throws: ControlError.invalidArgument("invalid limit 0; use 1-1000")) {
            try await fixture.control.history(accountID: owner, limit: 0)
        }
    }

    @Test func creationNeedsBalanceWhenRequired() async throws {
        let fixture = try BillingFixture { $0.requireBalance = true }
        defer { fixture.remove() }
        let owner = try await fixture.account()
        await #expect {
            try await fixture.control.createParticle(accountID: owner, name: "web")
        } throws: { error in
            (error as? ControlError)?.code == .paymentRequired
        }
        #expect(try await fixture.control.particles(accountID: owner).isEmpty)

        let grant = LedgerTransaction(
            accountID: owner, amountCents: 1, kind: .grant, createdAt: fixture.clock.now)
        #expect(try await fixture.store.insertTransaction(grant))
        #expect(
            try await fixture.control.createParticle(accountID: owner, name: "web").status
                == .running)
    }

    @Test func creationIgnoresBalanceByDefault() async throws {
        let fixture = try BillingFixture()
        defer { fixture.remove() }
        let owner = try await fixture.account()
        #expect(
            try await fixture.control.createParticle(accountID: owner, name: "web").status
                == .running)
    }

    @Test func topUpChecksAmount() async throws {
        let fixture = try BillingFixture()
        defer { fixture.remove() }
        let owner = try await fixture.account()
        await #expect(throws: ControlError.invalidArgument("invalid amount 999: the minimum top-up is 1000 cents ($10)")) {
            try await fixture.control.createTopUp(accountID: owner, amountCents: 999)
        }
        await #expect(throws: ControlError.self) {
            try await fixture.control.createTopUp(accountID: owner, amountCents: 100_000_000)
        }
        #expect(fixture.payments.requests.value.isEmpty)

        let url = try await fixture.control.createTopUp(accountID: owner, amountCents: 2500)
        #expect(url == "https://checkout.stripe.com/c/pay/cs_test_1")
        let request = try #require(fixture.payments.requests.value.first)
        #expect(request.accountID == owner)
        #expect(request.amountCents == 2500)
        #expect(request.currency == "usd")
        #expect(request.successURL == "https://example.com/paid")
        #expect(request.cancelURL == "https://example.com/cancelled")
        #expect(try await fixture.balance(owner) == 0)
    }

    @Test func topUpUnavailableWithoutStripe() async throws {
        let fixture = try BillingFixture(withProviders: false)
        defer { fixture.remove() }
        let owner = try await fixture.account()
        await #expect {
            try await fixture.control.createTopUp(accountID: owner, amountCents: 2500)
        } throws: { error in
            (error as? ControlError)?.code == .unavailable
        }
    }
}
