import Control
import Foundation
import Integrations
import Support

/// The billing, Stripe and recovery-email keys of `particled`'s configuration file.
///
/// They sit at the top level of the file beside the other keys; `Configuration` decodes them
/// with its own. Secrets (`stripe_secret_key`, `stripe_webhook_secret`, `smtp_password`) are
/// never logged.
struct BillingConfiguration: Decodable {
    var requireBalance = false
    var welcomeCreditCents: Int64 = 0
    /// Cents per hour by size name; sizes left out keep their default rate.
    var computeRates: [String: Double] = [:]
    var storageRates: [String: Double] = [:]
    var usagePostIntervalSeconds = 3600
    var stripeAPIBase = "https://api.stripe.com"
    var stripeSecretKey: String?
    var stripeWebhookSecret: String?
    var checkoutSuccessURL: String?
    var checkoutCancelURL: String?
    var smtpURL: String?
    /// Defaults to `particle@<domain>`.
    var smtpFrom: String?
    var smtpUsername: String?
    var smtpPassword: String?
    var recoveryEmailsPerHour = 3

    enum CodingKeys: String, CodingKey, CaseIterable {
        case requireBalance = "require_balance"
        case welcomeCreditCents = "welcome_credit_cents"
        case computeRates = "compute_rates_cents_per_hour"
        case storageRates = "storage_rates_cents_per_hour"
        case usagePostIntervalSeconds = "usage_post_interval_seconds"
        case stripeAPIBase = "stripe_api_base"
        case stripeSecretKey = "stripe_secret_key"
        case stripeWebhookSecret = "stripe_webhook_secret"
        case checkoutSuccessURL = "checkout_success_url"
        case checkoutCancelURL = "checkout_cancel_url"
        case smtpURL = "smtp_url"
        case smtpFrom = "smtp_from"
        case smtpUsername = "smtp_username"
        case smtpPassword = "smtp_password"
        case recoveryEmailsPerHour = "recovery_emails_per_hour"
    }

    init() {}

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try container.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        requireBalance = try value(.requireBalance, false)
        welcomeCreditCents = try value(.welcomeCreditCents, 0)
        computeRates = try value(.computeRates, [:])
        storageRates = try value(.storageRates, [:])
        usagePostIntervalSeconds = try value(.usagePostIntervalSeconds, 3600)
        stripeAPIBase = try value(.stripeAPIBase, "https://api.stripe.com")
        stripeSecretKey = try container.decodeIfPresent(String.self, forKey: .stripeSecretKey)
        stripeWebhookSecret = try container.decodeIfPresent(
            String.self, forKey: .stripeWebhookSecret)
        checkoutSuccessURL = try container.decodeIfPresent(String.self, forKey: .checkoutSuccessURL)
        checkoutCancelURL = try container.decodeIfPresent(String.self, forKey: .checkoutCancelURL)
        smtpURL = try container.decodeIfPresent(String.self, forKey: .smtpURL)
        smtpFrom = try container.decodeIfPresent(String.self, forKey: .smtpFrom)
        smtpUsername = try container.decodeIfPresent(String.self, forKey: .smtpUsername)
        smtpPassword = try container.decodeIfPresent(String.self, forKey: .smtpPassword)
        recoveryEmailsPerHour = try value(.recoveryEmailsPerHour, 3)
    }

    /// Checks the values that would otherwise fail at the first payment or email.
    func validate(domain: String) throws {
        guard welcomeCreditCents >= 0 else {
            throw StartupError("invalid welcome_credit_cents \(welcomeCreditCents); use 0 or more")
        }
        guard (1...3600).contains(usagePostIntervalSeconds) else {
            throw StartupError(
                "invalid usage_post_interval_seconds \(usagePostIntervalSeconds); use 1-3600")
        }
        guard recoveryEmailsPerHour > 0 else {
            throw StartupError(
                "invalid recovery_emails_per_hour \(recoveryEmailsPerHour); use 1 or more")
        }
        _ = try rates()
        try Self.requireURL(stripeAPIBase, key: "stripe_api_base", schemes: ["http", "https"])
        if stripeSecretKey != nil {
            let urls = [
                ("checkout_success_url", checkoutSuccessURL),
                ("checkout_cancel_url", checkoutCancelURL),
            ]
            for (key, url) in urls {
                guard let url else {
                    throw StartupError(
                        "missing \(key); it is required when stripe_secret_key is set")
                }
                try Self.requireURL(url, key: key, schemes: ["http", "https"])
            }
        }
        if let smtpURL {
            try Self.requireURL(smtpURL, key: "smtp_url", schemes: ["smtp", "smtps"])
            do {
                _ = try EmailAddress.validate(sender(domain: domain))
            } catch {
                throw StartupError("invalid smtp_from: \(error.message)")
            }
        }
    }

    /// Returns the usage rates: the defaults, overridden per size by the configured cents per hour.
    func rates() throws -> UsageRates {
        var rates = UsageRates.defaults
        for (key, table, path) in [
            ("compute_rates_cents_per_hour", computeRates, \UsageRates.computeMillicentsPerHour),
            ("storage_rates_cents_per_hour", storageRates, \UsageRates.storageMillicentsPerHour),
        ] {
            for (name, centsPerHour) in table {
                guard let size = ParticleSize(rawValue: name) else {
                    throw StartupError(
                        "invalid size '\(name)' in \(key); use p1, p2, p4, p8 or p16")
                }
                guard centsPerHour >= 0, centsPerHour <= 100_000 else {
                    throw StartupError(
                        "invalid rate \(centsPerHour) for \(name) in \(key); use 0-100000 cents per hour"
                    )
                }
                rates[keyPath: path][size] = Int64((centsPerHour * 1000).rounded())
            }
        }
        return rates
    }

    func settings() throws -> BillingSettings {
        var settings = BillingSettings()
        settings.rates = try rates()
        settings.requireBalance = requireBalance
        settings.welcomeCreditCents = welcomeCreditCents
        settings.usagePostInterval = .seconds(usagePostIntervalSeconds)
        settings.checkoutSuccessURL = checkoutSuccessURL ?? ""
        settings.checkoutCancelURL = checkoutCancelURL ?? ""
        settings.stripeWebhookSecret = stripeWebhookSecret
        settings.recoveryEmailsPerHour = recoveryEmailsPerHour
        return settings
    }

    /// Returns the Stripe client, or nil when no secret key is configured (top-ups then fail
    /// with 503).
    func paymentProvider() -> (any PaymentProvider)? {
        stripeSecretKey.map {
            StripeCheckout(apiBase: stripeAPIBase, secretKey: $0, logger: Logger(label: "stripe"))
        }
    }

    /// Returns the SMTP mailer, or nil when no relay is configured (recovery then fails with
    /// 503).
    func mailer(domain: String) -> (any Mailer)? {
        smtpURL.map {
            SMTPMailer(
                url: $0, from: sender(domain: domain), username: smtpUsername,
                password: smtpPassword)
        }
    }

    private func sender(domain: String) -> String { smtpFrom ?? "particle@\(domain)" }

    private static func requireURL(_ text: String, key: String, schemes: [String]) throws {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
            schemes.contains(scheme),
            url.host?.isEmpty == false
        else {
            throw StartupError(
                "invalid \(key) '\(text)'; use a \(schemes.joined(separator: " or ")) URL with a host"
            )
        }
    }
}
