import Foundation

extension SQLiteStore {
    private static let intervalColumns =
        "particle_id, account_id, name, size, status, started_at, ended_at, charged_until"

    public func usageIntervals(accountID: String, from start: Date, to end: Date) async throws
        -> [UsageInterval]
    {
        try await run { database in
            try database.query(
                "SELECT \(Self.intervalColumns) FROM usage_intervals WHERE account_id = ?"
                    + " AND started_at < ? AND (ended_at IS NULL OR ended_at > ?)"
                    + " ORDER BY started_at, id",
                [.text(accountID), .time(end), .time(start)]
            ).map(Self.interval)
        }
    }

    public func postUsage(until now: Date, rates: UsageRates) async throws -> [LedgerTransaction] {
        try await run { database in
            try database.transaction { try Self.postUsage(until: now, rates: rates, in: database) }
        }
    }

    private static func postUsage(until now: Date, rates: UsageRates, in database: SQLiteDatabase)
        throws -> [LedgerTransaction]
    {
        let rows = try database.query(
            "SELECT id, \(intervalColumns) FROM usage_intervals"
                + " WHERE (ended_at IS NULL OR charged_until < ended_at) AND charged_until < ?",
            [.time(now)])
        var unitsByAccount: [String: Int64] = [:]
        for row in rows {
            let interval = Self.interval(Array(row.dropFirst()))
            let chargedUntil = min(interval.endedAt ?? now, now)
            let milliseconds = interval.milliseconds(from: interval.chargedUntil, to: chargedUntil)
            let units = rates.units(
                status: interval.status, size: interval.size, milliseconds: milliseconds)
            unitsByAccount[interval.accountID, default: 0] += units
            try database.query(
                "UPDATE usage_intervals SET charged_until = ? WHERE id = ?",
                [.time(chargedUntil), row[0]])
        }

        var posted: [LedgerTransaction] = []
        for (accountID, units) in unitsByAccount.sorted(by: { $0.key < $1.key }) {
            // The fraction of a cent left over from earlier postings is carried, never dropped.
            let remainder =
                try database.query(
                    "SELECT units FROM usage_remainders WHERE account_id = ?", [.text(accountID)]
                ).first?[0].int ?? 0
            let total = remainder + units
            let cents = total / UsageRates.unitsPerCent
            try database.query(
                "INSERT INTO usage_remainders (account_id, units) VALUES (?, ?)"
                    + " ON CONFLICT (account_id) DO UPDATE SET units = excluded.units",
                [.text(accountID), .integer(total % UsageRates.unitsPerCent)])
            guard cents > 0 else { continue }
            let charge = LedgerTransaction(
                accountID: accountID, amountCents: -cents, kind: .usage, createdAt: now,
                description: "particle usage")
            _ = try insert(charge, into: database)
            posted.append(charge)
        }
        return posted
    }

    /// Opens the particle's usage interval at `time`, inside the caller's transaction.
    static func openInterval(for particle: Particle, at time: Date, in database: SQLiteDatabase)
        throws
    {
        try database.query(
            "INSERT INTO usage_intervals (\(intervalColumns)) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
            [
                .text(particle.id), .text(particle.accountID), .text(particle.name),
                .text(particle.size.rawValue), .text(particle.status.rawValue), .time(time),
                .time(time),
            ])
    }

    /// Starts a new interval when the particle's status or size differs from its open one, and
    /// keeps the open interval's name current, inside the caller's transaction.
    static func recordInterval(for particle: Particle, in database: SQLiteDatabase) throws {
        guard
            let open = try database.query(
                "SELECT id, status, size, name, started_at FROM usage_intervals"
                    + " WHERE particle_id = ? AND ended_at IS NULL",
                [.text(particle.id)]
            ).first
        else {
            return try openInterval(for: particle, at: particle.statusChangedAt, in: database)
        }
        if open[1].string == particle.status.rawValue, open[2].string == particle.size.rawValue {
            if open[3].string != particle.name {
                try database.query(
                    "UPDATE usage_intervals SET name = ? WHERE id = ?",
                    [.text(particle.name), open[0]])
            }
            return
        }
        // NOTE: a size change without a status change also takes effect at the last status
        // change, because a particle records no separate time for it.
        let boundary = max(particle.statusChangedAt, open[4].date!)
        try database.query(
            "UPDATE usage_intervals SET ended_at = ? WHERE id = ?", [.time(boundary), open[0]])
        try openInterval(for: particle, at: boundary, in: database)
    }

    /// Ends the particle's open interval at `time`, inside the caller's transaction.
    static func closeInterval(particleID: String, at time: Date, in database: SQLiteDatabase) throws
    {
        try database.query(
            "UPDATE usage_intervals SET ended_at = MAX(started_at, ?)"
                + " WHERE particle_id = ? AND ended_at IS NULL",
            [.time(time), .text(particleID)])
    }

    private static func interval(_ row: [SQLiteValue]) -> UsageInterval {
        UsageInterval(
            particleID: row[0].string!, accountID: row[1].string!, name: row[2].string!,
            size: ParticleSize(rawValue: row[3].string!) ?? .p1,
            status: ParticleStatus(rawValue: row[4].string!) ?? .error, startedAt: row[5].date!,
            endedAt: row[6].date, chargedUntil: row[7].date!)
    }
}
