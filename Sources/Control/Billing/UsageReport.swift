import Foundation

/// The time span of a usage report.
public enum UsagePeriod: String, Sendable, CaseIterable {
    /// Since midnight UTC today.
    case day
    /// Since Monday 00:00 UTC of this ISO week.
    case week
    /// Since the first of this month, 00:00 UTC.
    case month
    /// Since the account was created.
    case all

    /// Parses a period name; nil means the default, `month`.
    public static func parse(_ text: String?) throws(ControlError) -> UsagePeriod {
        guard let text else { return .month }
        guard let period = UsagePeriod(rawValue: text) else {
            let valid = allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalidArgument("invalid period '\(text)'; use one of \(valid)")
        }
        return period
    }

    /// Returns the start of the period that contains `now`.
    func start(now: Date, accountCreatedAt: Date) -> Date {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        switch self {
        case .day:
            return calendar.startOfDay(for: now)
        case .week:
            return calendar.dateInterval(of: .weekOfYear, for: now)?.start
                ?? calendar.startOfDay(for: now)
        case .month:
            return calendar.dateInterval(of: .month, for: now)?.start
                ?? calendar.startOfDay(for: now)
        case .all:
            return min(accountCreatedAt, now)
        }
    }
}

/// One particle's usage in a report.
public struct ParticleUsage: Sendable, Equatable {
    public var particleID: String
    public var name: String
    public var size: ParticleSize
    /// The particle's status now, or `deleted`.
    public var status: String
    /// Milliseconds in status `running`, charged the compute rate.
    public var computeMilliseconds: Int64
    /// Milliseconds in any other status, charged the storage rate.
    public var storageMilliseconds: Int64
    /// The charge in units (see `UsageRates.unitsPerCent`).
    public var units: Int64

    /// The charge rounded to the nearest cent.
    public var totalCents: Int64 { (units + UsageRates.unitsPerCent / 2) / UsageRates.unitsPerCent }
    /// Hours in status `running`, to two decimals.
    public var computeHours: Double { (Double(computeMilliseconds) / 36_000).rounded() / 100 }

    public var json: JSON {
        .object([
            ("particle_id", .string(particleID)), ("name", .string(name)),
            ("size", .string(size.rawValue)),
            ("status", .string(status)), ("compute_hours", .double(computeHours)),
            ("total_cents", .int(totalCents)),
        ])
    }
}

/// Usage per particle over a period, computed from status intervals at the configured rates.
public struct UsageReport: Sendable, Equatable {
    public var period: UsagePeriod
    public var start: Date
    public var end: Date
    public var particles: [ParticleUsage]

    /// The sum of the particles' rounded totals, so that the report adds up.
    public var totalCents: Int64 { particles.reduce(0) { $0 + $1.totalCents } }

    /// The body of `GET /v1/account/usage`.
    public var json: JSON {
        .object([
            ("period", .string(period.rawValue)), ("start", JSON.time(start)),
            ("end", JSON.time(end)),
            ("total_cents", .int(totalCents)), ("particles", .array(particles.map(\.json))),
        ])
    }
}
