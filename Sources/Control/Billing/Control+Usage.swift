import Foundation

extension Control {
    /// Charges every account for its particles' time up to `now` and returns the `usage`
    /// transactions posted (one per account that owes at least a whole cent).
    @discardableResult
    public func postUsage(now: Date? = nil) async throws -> [LedgerTransaction] {
        let time = now ?? clock()
        let posted = try await store.postUsage(until: time, rates: configuration.billing.rates)
        for charge in posted {
            logger.info(
                "usage charged",
                ["account": charge.accountID, "amount_cents": "\(charge.amountCents)"])
        }
        // With `requireBalance`, `IdleScheduler` puts the running particles of an account at or
        // below zero to sleep at its next look.
        return posted
    }

    /// Returns the account's usage per particle over `period`, up to now.
    ///
    /// The amounts are computed at the current rates and rounded per particle, so they can differ
    /// by a cent from the ledger's hourly charges, which carry the fractions instead.
    public func usage(accountID: String, period: UsagePeriod) async throws -> UsageReport {
        let account = try await account(id: accountID)
        let end = clock()
        let start = period.start(now: end, accountCreatedAt: account.createdAt)
        let intervals = try await store.usageIntervals(accountID: accountID, from: start, to: end)
        let current = Dictionary(
            try await store.particles(accountID: accountID).map { ($0.id, $0) }
        ) { first, _ in first }
        let rates = configuration.billing.rates

        var usage: [String: ParticleUsage] = [:]
        var order: [String] = []
        for interval in intervals {
            let milliseconds = interval.milliseconds(from: start, to: end)
            let particle = current[interval.particleID]
            var entry =
                usage[interval.particleID]
                ?? {
                    order.append(interval.particleID)
                    return ParticleUsage(
                        particleID: interval.particleID, name: particle?.name ?? interval.name,
                        size: particle?.size ?? interval.size,
                        status: particle?.status.rawValue ?? "deleted", computeMilliseconds: 0,
                        storageMilliseconds: 0, units: 0)
                }()
            if UsageRates.isCompute(interval.status) {
                entry.computeMilliseconds += milliseconds
            } else {
                entry.storageMilliseconds += milliseconds
            }
            entry.units += rates.units(
                status: interval.status, size: interval.size, milliseconds: milliseconds)
            usage[interval.particleID] = entry
        }
        return UsageReport(
            period: period, start: start, end: end, particles: order.compactMap { usage[$0] })
    }
}
