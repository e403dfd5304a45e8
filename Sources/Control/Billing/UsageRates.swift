/// Prices of particle time, per size, in thousandths of a cent per hour.
///
/// A `running` particle is charged the compute rate of its size. Every other status (stopped,
/// sleeping, error, and the transitions between them) is charged the storage rate, because the
/// disk is kept. Charges are computed in integer units of one millicent-millisecond per hour,
/// so that per-second metering never loses a fraction of a cent.
public struct UsageRates: Sendable, Equatable {
    /// Units in one cent: 1000 millicents times 3,600,000 milliseconds per hour.
    public static let unitsPerCent: Int64 = 1000 * 3_600_000

    public var computeMillicentsPerHour: [ParticleSize: Int64]
    public var storageMillicentsPerHour: [ParticleSize: Int64]

    public init(
        computeMillicentsPerHour: [ParticleSize: Int64],
        storageMillicentsPerHour: [ParticleSize: Int64]
    ) {
        self.computeMillicentsPerHour = computeMillicentsPerHour
        self.storageMillicentsPerHour = storageMillicentsPerHour
    }

    /// The default prices: compute 1.2 cents per hour per vCPU, storage 0.14 cents per hour per
    /// 10 GiB of disk (about $1 per 10 GiB per month).
    ///
    /// They are examples for a self-hosted server, not anyone's published prices; operators set
    /// their own in the configuration.
    public static let defaults = UsageRates(
        computeMillicentsPerHour: Dictionary(
            uniqueKeysWithValues: ParticleSize.allCases.map { ($0, 1200 * Int64($0.vcpus)) }),
        storageMillicentsPerHour: Dictionary(
            uniqueKeysWithValues: ParticleSize.allCases.map { ($0, 140 * Int64($0.vcpus)) }))

    /// Returns whether `status` is charged the compute rate rather than the storage rate.
    public static func isCompute(_ status: ParticleStatus) -> Bool { status == .running }

    /// Returns the rate of a particle of `size` in `status`, in millicents per hour.
    public func millicentsPerHour(status: ParticleStatus, size: ParticleSize) -> Int64 {
        let table = Self.isCompute(status) ? computeMillicentsPerHour : storageMillicentsPerHour
        return table[size] ?? 0
    }

    /// Returns the charge for `milliseconds` of a particle of `size` in `status`, in units.
    public func units(status: ParticleStatus, size: ParticleSize, milliseconds: Int64) -> Int64 {
        millicentsPerHour(status: status, size: size) * max(0, milliseconds)
    }
}
