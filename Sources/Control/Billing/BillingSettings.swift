/// The billing rules an operator configures: prices, credit, and the Stripe and recovery
/// settings that Control itself checks.
public struct BillingSettings: Sendable {
    public var rates: UsageRates = .defaults
    /// Whether creating a particle needs a positive balance (402 otherwise).
    public var requireBalance = false
    /// Credit granted to every new account, recorded as a `grant` in its ledger.
    public var welcomeCreditCents: Int64 = 0
    /// How often the usage meter posts charges; at most one hour.
    public var usagePostInterval: Duration = .seconds(3600)
    /// Pages that Stripe Checkout sends the payer to after paying and after cancelling.
    public var checkoutSuccessURL = ""
    public var checkoutCancelURL = ""
    /// The signing secret of the Stripe webhook endpoint (`whsec_...`); nil rejects webhooks.
    public var stripeWebhookSecret: String?
    /// Recovery emails each address may request per hour.
    public var recoveryEmailsPerHour = 3

    public init() {}
}
