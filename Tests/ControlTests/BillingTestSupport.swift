import Foundation
import Support

@testable import Control

/// A clock that tests move by hand.
final class TestClock: Sendable {
    private let current: Locked<Date>

    init(_ start: Date) { current = Locked(start) }

    var now: Date { current.value }

    func advance(seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

/// Records Control's Checkout Session requests and returns a fixed session.
final class RecordingPayments: PaymentProvider {
    let requests = Locked<[CheckoutRequest]>([])

    func createCheckoutSession(_ request: CheckoutRequest) async throws -> CheckoutSession {
        requests.withLock { $0.append(request) }
        return CheckoutSession(id: "cs_test_1", url: "https://checkout.stripe.com/c/pay/cs_test_1")
    }
}

/// Keeps the messages that Control sends instead of delivering them.
final class RecordingMailer: Mailer {
    let messages = Locked<[MailMessage]>([])

    func send(_ message: MailMessage) async throws {
        messages.withLock { $0.append(message) }
    }

    /// Waits up to two seconds for `count` messages, because recovery sends from its own task.
    func waitForMessages(_ count: Int) async throws -> [MailMessage] {
        for _ in 0..<200 where messages.value.count < count {
            try await Task.sleep(for: .milliseconds(10))
        }
        return messages.value
    }
}

/// A Control over a SQLite store in a temporary directory, with a movable clock.
struct BillingFixture {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "billing-\(UUID())")
    let clock = TestClock(Date(timeIntervalSince1970: 1_773_144_000))  // 2026-03-10T12:00:00Z
    let hypervisor = RecordingHypervisor()
    let payments = RecordingPayments()
    let mailer = RecordingMailer()
    let store: SQLiteStore
    let control: Control

    static let webhookSecret = "whsec_test_secret"

    init(configure: (inout BillingSettings) -> Void = { _ in }, withProviders: Bool = true) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try SQLiteStore(path: directory.appendingPathComponent("particle.db").path)
        var billing = BillingSettings()
        billing.stripeWebhookSecret = Self.webhookSecret
        billing.checkoutSuccessURL = "https://example.com/paid"
        billing.checkoutCancelURL = "https://example.com/cancelled"
        configure(&billing)
        let clock = self.clock
        control = Control(
            store: store, hypervisor: hypervisor,
            configuration: .init(
                domain: "particle.localhost", addressPool: try AddressPool(cidr: "10.9.0.0/29"),
                billing: billing),
            payments: withProviders ? payments : nil, mailer: withProviders ? mailer : nil,
            clock: { clock.now })
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Creates an account for a key made from `seed` and returns its id.
    func account(seed: UInt8 = 1) async throws -> String {
        let key = SSHPublicKey(
            algorithm: "ssh-ed25519", base64: Data(repeating: seed, count: 51).base64EncodedString()
        )
        return try await control.account(forSSHKey: key).0.id
    }

    func balance(_ accountID: String) async throws -> Int64 {
        try await control.account(id: accountID).balanceCents
    }
}
