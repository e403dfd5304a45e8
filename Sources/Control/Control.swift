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
        public var billing: BillingSettings
        public var idle: IdleConfiguration

        public init(
            domain: String, addressPool: AddressPool, defaultImage: String = "debian-12",
            stopDeadline: Duration = .seconds(30), quotas: Quotas = Quotas(),
            billing: BillingSettings = BillingSettings(), idle: IdleConfiguration = IdleConfiguration()
        ) {
            self.idle = idle
            self.domain = domain
            self.addressPool = addressPool
            self.defaultImage = defaultImage
            self.stopDeadline = stopDeadline
            self.quotas = quotas
            self.billing = billing
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
    public let activity: ActivityTracker
    /// Challenges that account creation over the API signs.
    public let challenges = AccountChallenges()
    /// Creates Stripe Checkout Sessions for top-ups; nil when top-ups are not configured.
    let payments: (any PaymentProvider)?
    /// Sends recovery email; nil when no SMTP relay is configured.
    let mailer: (any Mailer)?
    /// Recovery requests per email address.
    let recoveryLimiter: RateLimiter
    /// The current time; tests pass a clock they can move.
    let clock: @Sendable () -> Date
    /// When this process started: activity before it is unknown, so no particle sleeps for
    /// idleness sooner than its timeout after it.
    let startedAt: Date
    /// When a start was last refused for lack of room in `memory_dir`, to log that once a minute.
    let lastMemoryRefusal = Locked<Date?>(nil)
    /// The guest timer that last kept each particle awake, for `why-awake`.
    let guestTimerHolds = Locked<[String: GuestTimerHold]>([:])

    public init(
        store: any Store, hypervisor: any Hypervisor, configuration: Configuration,
        payments: (any PaymentProvider)? = nil, mailer: (any Mailer)? = nil,
        logger: Logger = Logger(label: "control"), clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.hypervisor = hypervisor
        self.configuration = configuration
        self.payments = payments
        self.mailer = mailer
        self.recoveryLimiter = RateLimiter(
            capacity: configuration.billing.recoveryEmailsPerHour, period: 3600)
        self.logger = logger
        self.clock = clock
        activity = ActivityTracker(clock: clock)
        startedAt = clock()
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
