import Control
import Foundation
import Support

/// Creates Stripe Checkout Sessions with Stripe's HTTP API, through libcurl.
///
/// Sends `POST <apiBase>/v1/checkout/sessions` form-encoded with the secret key as a Bearer
/// token, as Stripe's API reference for "Create a Checkout Session" describes. The base URL is
/// configurable so that tests can point it at a local stand-in.
public struct StripeCheckout: PaymentProvider {
    let apiBase: String
    let secretKey: String
    let logger: Logger

    public init(apiBase: String, secretKey: String, logger: Logger) {
        self.apiBase = apiBase.hasSuffix("/") ? String(apiBase.dropLast()) : apiBase
        self.secretKey = secretKey
        self.logger = logger
    }

    public func createCheckoutSession(_ request: CheckoutRequest) async throws -> CheckoutSession {
        let transfer = CurlTransfer(
            url: apiBase + "/v1/checkout/sessions", protocols: "http,https",
            headers: [
                "Authorization: Bearer \(secretKey)",
                "Content-Type: application/x-www-form-urlencoded",
            ],
            postFields: Array(FormEncoding.encode(Self.fields(request)).utf8))
        let fields = ["account": request.accountID]
        let response: (code: Int, body: [UInt8])
        do {
            response = try await onNewThread(name: "stripe-api") { try transfer.perform() }
        } catch {
            logger.error(
                "Stripe API request failed", fields.merging(["error": "\(error)"]) { a, _ in a })
            throw ControlError.unavailable("cannot reach the payment provider; try again later")
        }
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        guard (200..<300).contains(response.code), let object,
            let id = object["id"] as? String, let url = object["url"] as? String
        else {
            let message =
                ((object?["error"] as? [String: Any])?["message"] as? String) ?? "no error message"
            logger.error(
                "Stripe API rejected the checkout session",
                fields.merging(["status": "\(response.code)", "error": message]) { a, _ in a })
            throw ControlError.unavailable(
                "the payment provider rejected the top-up; try again later or contact the operator")
        }
        return CheckoutSession(id: id, url: url)
    }

    /// Returns the form fields of a one-item payment session for `request`.
    static func fields(_ request: CheckoutRequest) -> [(String, String)] {
        [
            ("mode", "payment"),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", request.currency),
            ("line_items[0][price_data][unit_amount]", String(request.amountCents)),
            ("line_items[0][price_data][product_data][name]", request.productName),
            ("success_url", request.successURL),
            ("cancel_url", request.cancelURL),
            ("client_reference_id", request.accountID),
            ("metadata[account_id]", request.accountID),
        ]
    }
}

/// `application/x-www-form-urlencoded` bodies, as the WHATWG URL standard defines them.
enum FormEncoding {
    private static let unreserved = Set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._*".utf8)

    static func encode(_ fields: [(String, String)]) -> String {
        fields.map { escape($0.0) + "=" + escape($0.1) }.joined(separator: "&")
    }

    static func escape(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) {
                output.unicodeScalars.append(Unicode.Scalar(byte))
            } else if byte == 0x20 {
                output += "+"
            } else {
                output += String(format: "%%%02X", byte)
            }
        }
        return output
    }
}
