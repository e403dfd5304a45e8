import Foundation
import Testing

@testable import Control

@Suite struct UsageTests {
    /// p1 costs 360 cents an hour running (0.1 cent a second) and 36 stored (0.01 a second).
    static func configure(_ billing: inout BillingSettings) {
        billing.rates.computeMillicentsPerHour[.p1] = 360_000
        billing.rates.storageMillicentsPerHour[.p1] = 36_000
        billing.welcomeCreditCents = 1000
    }

    @Test func chargesRunningThenStored() async throws {
        let fixture = try BillingFixture(configure: Self.configure)
        defer { fixture.remove() }
        let control = fixture.control
        let owner = try await fixture.account()
        _ = try await control.createParticle(accountID: owner, name: "web")

        fixture.clock.advance(seconds: 100)
        let first = try await control.postUsage()
        #expect(first.map(\.amountCents) == [-10])
        #expect(try await fixture.balance(owner) == 990)

        // Half a cent is carried, not charged, until it adds up to a whole one.
        fixture.clock.advance(seconds: 5)
        #expect(try await control.postUsage().isEmpty)
        fixture.clock.advance(seconds: 5)
        #expect(try await control.postUsage().map(\.amountCents) == [-1])

        _ = try await control.stopParticle(accountID: owner, name: "web")
        fixture.clock.advance(seconds: 1000)
        #expect(try await control.postUsage().map(\.amountCents) == [-10])

        // A deleted particle is charged up to its deletion and never after.
        fixture.clock.advance(seconds: 1000)
        try await control.deleteParticle(accountID: owner, name: "web")
        fixture.clock.advance(seconds: 5000)
        #expect(try await control.postUsage().map(\.amountCents) == [-10])
        fixture.clock.advance(seconds: 5000)
        #expect(try await control.postUsage().isEmpty)

        #expect(try await fixture.balance(owner) == 1000 - 31)
        #expect(try await control.checkLedger().isEmpty)
        let kinds = try await control.history(accountID: owner).map(\.kind)
        #expect(kinds == [.usage, .usage, .usage, .usage, .grant])
    }

    @Test func postingTwiceChargesOnce() async throws {
        let fixture = try BillingFixture(configure: Self.configure)
        defer { fixture.remove() }
        let owner = try await fixture.account()
        _ = try await fixture.control.createParticle(accountID: owner, name: "web")
        fixture.clock.advance(seconds: 3600)
        #expect(try await fixture.control.postUsage().map(\.amountCents) == [-360])
        #expect(try await fixture.control.postUsage().isEmpty)
        #expect(try await fixture.balance(owner) == 1000 - 360)
    }

    @Test func reportSplitsComputeAndStorage() async throws {
        let fixture = try BillingFixture(configure: Self.configure)
        defer { fixture.remove() }
        let control = fixture.control
        let owner = try await fixture.account()
        let web = try await control.createParticle(accountID: owner, name: "web")
        fixture.clock.advance(seconds: 1800)
        _ = try await control.stopParticle(accountID: owner, name: "web")
        fixture.clock.advance(seconds: 1800)
        _ = try await control.createParticle(accountID: owner, name: "api")
        fixture.clock.advance(seconds: 360)
        try await control.deleteParticle(accountID: owner, name: "api")

        let report = try await control.usage(accountID: owner, period: .day)
        #expect(report.start == ISO8601DateFormatter().date(from: "2026-03-10T00:00:00Z"))
        #expect(report.end == fixture.clock.now)
        try #require(report.particles.count == 2)
        let webUsage = report.particles[0]
        #expect(webUsage.particleID == web.id)
        #expect(webUsage.status == "stopped")
        #expect(webUsage.computeHours == 0.5)
        // 1800 s running (180 cents) and 2160 s stored (21.6 cents).
        #expect(webUsage.totalCents == 202)
        let apiUsage = report.particles[1]
        #expect(apiUsage.name == "api")
        #expect(apiUsage.status == "deleted")
        #expect(apiUsage.computeHours == 0.1)
        #expect(apiUsage.totalCents == 36)
        #expect(report.totalCents == 238)

        let json = report.json
        #expect(json["period"] == .string("day"))
        #expect(json["total_cents"] == .int(238))
        #expect(json["start"] == .string("2026-03-10T00:00:00Z"))
    }

    @Test func reportClipsToPeriod() async throws {
        let fixture = try BillingFixture(configure: Self.configure)
        defer { fixture.remove() }
        let owner = try await fixture.account()
        _ = try await fixture.control.createParticle(accountID: owner, name: "web")
        // From 12:00 on 2026-03-10 to 01:00 on 2026-03-11: one hour of it falls on the new day.
        fixture.clock.advance(seconds: 13 * 3600)
        let day = try await fixture.control.usage(accountID: owner, period: .day)
        #expect(day.particles.first?.computeHours == 1)
        #expect(day.totalCents == 360)
        let month = try await fixture.control.usage(accountID: owner, period: .month)
        #expect(month.start == ISO8601DateFormatter().date(from: "2026-03-01T00:00:00Z"))
        #expect(month.particles.first?.computeHours == 13)
        let week = try await fixture.control.usage(accountID: owner, period: .week)
        #expect(week.start == ISO8601DateFormatter().date(from: "2026-03-09T00:00:00Z"))
        let all = try await fixture.control.usage(accountID: owner, period: .all)
        #expect(all.totalCents == 13 * 360)
    }

    @Test func reportHidesOtherAccounts() async throws {
        let fixture = try BillingFixture(configure: Self.configure)
        defer { fixture.remove() }
        let owner = try await fixture.account()
        let other = try await fixture.account(seed: 2)
        _ = try await fixture.control.createParticle(accountID: owner, name: "web")
        fixture.clock.advance(seconds: 60)
        #expect(try await fixture.control.usage(accountID: other, period: .all).particles.isEmpty)
    }

    @Test func periodParsing() throws {
        #expect(try UsagePeriod.parse(nil) == .month)
        #expect(try UsagePeriod.parse("week") == .week)
        #expect(
            throws: ControlError.invalidArgument(
                "invalid period 'year'; use one of day, week, month, all")
        ) {
            try UsagePeriod.parse("year")
        }
    }
}
