/// A top-up's request to the payment provider: a hosted page where the payer pays `amountCents`.
public struct CheckoutRequest: Sendable, Equatable {
    public var accountID: String
    public var amountCents: Int
    /// ISO 4217 code in lowercase, as Stripe writes it.
    public var currency: String
    /// The line item's name on the payment page.
    public var productName: String
    public var successURL: String
    public var cancelURL: String

    public init(
        accountID: String, amountCents: Int, currency: String, productName: String,
        successURL: String, cancelURL: String
    ) {
        self.accountID = accountID
        self.amountCents = amountCents
        self.currency = currency
        self.productName = productName
        self.successURL = successURL
        self.cancelURL = cancelURL
    }
}

/// A created Checkout Session: its id (`cs_...`) and the URL of its payment page.
public struct CheckoutSession: Sendable, Equatable {
    public var id: String
    public var url: String

    public init(id: String, url: String) {
        self.id = id
        self.url = url
    }
}

/// Creates hosted payment pages; the daemon's implementation calls Stripe's HTTP API.
///
/// Implementations throw `ControlError.unavailable` with a message safe to show the user when
/// the provider cannot be reached or rejects the request, and log the provider's detail.
public protocol PaymentProvider: Sendable {
    func createCheckoutSession(_ request: CheckoutRequest) async throws -> CheckoutSession
}

/// An email to one recipient, in plain text.
public struct MailMessage: Sendable, Equatable {
    public var to: String
    public var subject: String
    public var body: String

    public init(to: String, subject: String, body: String) {
        self.to = to
        self.subject = subject
        self.body = body
    }
}

/// Sends email; the daemon's implementation speaks SMTP to a configured relay.
public protocol Mailer: Sendable {
    func send(_ message: MailMessage) async throws
}
