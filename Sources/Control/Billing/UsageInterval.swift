import Foundation

/// A stretch of time in which one particle kept one status and one size.
///
/// The store opens one when a particle is inserted, closes it and opens the next whenever the
/// status or size changes, and closes the last one when the particle is deleted. Intervals
/// outlive their particle so that usage reports and charges still cover deleted particles.
public struct UsageInterval: Sendable, Equatable {
    public var particleID: String
    public var accountID: String
    /// The particle's name when the interval was last written.
    public var name: String
    public var size: ParticleSize
    public var status: ParticleStatus
    public var startedAt: Date
    /// Nil while the interval is open.
    public var endedAt: Date?
    /// The end of the part of the interval already posted to the ledger as usage.
    public var chargedUntil: Date

    public init(
        particleID: String, accountID: String, name: String, size: ParticleSize,
        status: ParticleStatus, startedAt: Date, endedAt: Date?, chargedUntil: Date
    ) {
        self.particleID = particleID
        self.accountID = accountID
        self.name = name
        self.size = size
        self.status = status
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.chargedUntil = chargedUntil
    }

    /// Returns the milliseconds of this interval inside `start..<end`. An open interval lasts
    /// until `end`.
    public func milliseconds(from start: Date, to end: Date) -> Int64 {
        let from = max(startedAt, start)
        let to = min(endedAt ?? end, end)
        guard to > from else { return 0 }
        return Int64((to.timeIntervalSince(from) * 1000).rounded())
    }
}
