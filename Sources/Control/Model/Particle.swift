import Foundation

/// A size tier: `pN` has N vCPUs, 2·N GiB of memory and 10·N GiB of disk.
public enum ParticleSize: String, Sendable, CaseIterable, Codable {
    case p1, p2, p4, p8, p16

    public var vcpus: Int { Int(rawValue.dropFirst())! }
    public var memoryBytes: UInt64 { UInt64(vcpus) * 2 << 30 }
    public var diskBytes: UInt64 { UInt64(vcpus) * 10 << 30 }

    /// Parses a size name, with an error that lists the valid ones.
    public static func parse(_ value: String) throws(ControlError) -> ParticleSize {
        guard let size = ParticleSize(rawValue: value) else {
            let valid = allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalidArgument("invalid size '\(value)'; use one of \(valid)")
        }
        return size
    }
}

/// The lifecycle status of a particle.
public enum ParticleStatus: String, Sendable, Codable, CaseIterable {
    case creating, running, sleeping, stopped, starting, stopping, error
}

/// The policy for a particle that has had no activity for a while.
public enum IdlePolicy: String, Sendable, Codable, CaseIterable {
    case none, on, sleep, schedule
}

/// A particle as the store keeps it.
public struct Particle: Sendable, Equatable {
    public var id: String
    public var accountID: String
    public var name: String
    public var size: ParticleSize
    public var image: String
    public var status: ParticleStatus
    public var httpPort: Int
    public var idlePolicy: IdlePolicy
    /// How long the particle may go without activity before the `sleep` policy puts it to sleep.
    public var idleTimeoutSeconds: Int = IdleSettings.defaultTimeoutSeconds
    /// The weekly windows of the `schedule` policy, as the user gave them.
    public var idleSchedule: String?
    /// The guest's IPv4 address inside Particle's network namespace.
    public var address: String
    public var customDomain: String?
    public var createdAt: Date
    public var stoppedAt: Date?
    /// When the particle last changed status, to measure uptime.
    public var statusChangedAt: Date
    /// While it sleeps: when a timer in its guest is due, so that it is woken for it.
    public var wakeAt: Date?
    /// While it sleeps: the guest timer due at `wakeAt`, as `GuestTimer.description` puts it.
    public var wakeReason: String?

    /// The tap device name, unique per particle and within the kernel's 15-character limit.
    public var tapName: String { Particle.tapName(id: id) }

    public static func tapName(id: String) -> String { "pt" + id.prefix(12) }
}

/// Validation of particle names: DNS labels of 1-40 characters.
public enum ParticleName {
    public static let maxLength = 40

    /// Checks `name` and returns it, or throws an error that names the value and the rule.
    @discardableResult
    public static func validate(_ name: String, field: String = "name") throws(ControlError)
        -> String
    {
        let rule =
            "use 1-\(maxLength) lowercase letters, digits and hyphens, not starting or ending"
            + " with a hyphen"
        guard !name.isEmpty else {
            throw .invalidArgument("missing \(field); \(rule)")
        }
        guard name.count <= maxLength else {
            throw .invalidArgument(
                "invalid \(field) '\(name)': \(name.count) characters is too long; \(rule)")
        }
        let allowed = name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
        guard allowed, !name.hasPrefix("-"), !name.hasSuffix("-") else {
            throw .invalidArgument("invalid \(field) '\(name)'; \(rule)")
        }
        return name
    }
}
