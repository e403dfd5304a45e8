import Foundation
import Support

/// The domain of Particle: accounts, keys and particles, and every rule about them.
///
/// Every operation exists here once; the SSH commands, the REST API and the CLI are faces of
/// these methods. Errors are `ControlError`.
public final class Control: Sendable {
    /// Settings that the operations depend on.
    public struct Configuration: Sendable {
        /// The domain that particles' host names end in, like `particle.localhost`.
        public var domain: String
        public var addressPool: AddressPool
        public var defaultImage: String
        /// How long a clean guest shutdown may take before the guest is powered off.
        public var stopDeadline: Duration
        /// Per-account limits; creating past one is `.forbidden`.
        public var quotas: Quotas

        public init(
            domain: String, addressPool: AddressPool, defaultImage: String = "debian-12",
            stopDeadline: Duration = .seconds(30), quotas: Quotas = Quotas()
        ) {
            self.domain = domain
            self.addressPool = addressPool
            self.defaultImage = defaultImage
            self.stopDeadline = stopDeadline
            self.quotas = quotas
        }
    }

    /// Per-account limits on what an account can hold at once.
    public struct Quotas: Sendable {
        public var particles: Int
        /// The sum of the vCPUs of the account's particles.
        public var vcpus: Int
        public var snapshots: Int

        public init(particles: Int = 20, vcpus: Int = 32, snapshots: Int = 50) {
            self.particles = particles
            self.vcpus = vcpus
            self.snapshots = snapshots
        }
    }

    public let configuration: Configuration
    let store: any Store
    let hypervisor: any Hypervisor
    let logger: Logger
    let particleLock = KeyedLock()
    /// Open connections and commands per particle, fed by the proxy, the gateway and `exec`.
    public let activity = ActivityTracker()
    /// Challenges that account creation over the API signs.
    public let challenges = AccountChallenges()

    public init(
        store: any Store, hypervisor: any Hypervisor, configuration: Configuration,
        logger: Logger = Logger(label: "control")
    ) {
        self.store = store
        self.hypervisor = hypervisor
        self.configuration = configuration
        self.logger = logger
    }

    /// Rethrows `error` as a `ControlError`, logging and wrapping anything unexpected.
    func controlError(_ error: any Error, operation: String, _ fields: [String: String]) -> ControlError {
        if let error = error as? ControlError {
            if error.code == .internal {
                logger.error("operation failed", fields.merging(["op": operation, "error": error.cause ?? error.message]) { a, _ in a })
            }
            return error
        }
        logger.error("operation failed", fields.merging(["op": operation, "error": "\(error)"]) { a, _ in a })
        return .internal("\(operation) failed; see particled's log for the cause", cause: error)
    }
}
