import Control
import Foundation
import HTTPProxy

extension APIResponder {
    static var billingRoutes: [Route] {
        [
            Route(method: "POST", pattern: "/v1/account/topup") { request, control in
                let amount = try request.jsonBody().requiredInteger("amount")
                let url = try await control.createTopUp(
                    accountID: request.accountID, amountCents: amount)
                return APIResponse.json(200, .object([("url", .string(url))]))
            },
            Route(method: "GET", pattern: "/v1/account/history") { request, control in
                var limit = 100
                if let text = request.query["limit"] {
                    guard let number = Int(text) else {
                        throw ControlError.invalidArgument("invalid limit '\(text)'; use 1-1000")
                    }
                    limit = number
                }
                let transactions = try await control.history(
                    accountID: request.accountID, limit: limit)
                return APIResponse.json(
                    200, .object([("transactions", .array(transactions.map(\.json)))]))
            },
            Route(method: "GET", pattern: "/v1/account/usage") { request, control in
                let period = try UsagePeriod.parse(request.query["period"])
                let report = try await control.usage(accountID: request.accountID, period: period)
                return APIResponse.json(200, report.json)
            },
            Route(method: "PUT", pattern: "/v1/account/email") { request, control in
                let email = try request.jsonBody().requiredString("email")
                let stored = try await control.setRecoveryEmail(
                    accountID: request.accountID, email: email)
                return APIResponse.json(200, .object([("email", .string(stored))]))
            },
            Route(method: "POST", pattern: "/v1/account/recover", authenticated: false) {
                request, control in
                let email = try request.jsonBody().requiredString("email")
                try await control.requestRecovery(email: email)
                return APIResponse.json(200, .object([("message", .string("Recovery email sent"))]))
            },
            Route(method: "POST", pattern: "/v1/stripe/webhook", authenticated: false) {
                request, control in
                try await receiveStripeWebhook(request, control)
            },
        ]
    }

    /// Passes the raw body and its signature to Control. A bad signature or body is 400, as
    /// Stripe expects, rather than the 422 of other invalid arguments.
    private static func receiveStripeWebhook(_ request: APIRequest, _ control: Control) async throws
        -> HTTPResponse
    {
        let outcome: StripeWebhookOutcome
        do {
            outcome = try await control.receiveStripeWebhook(
                payload: request.body, signatureHeader: request.head.headers["Stripe-Signature"])
        } catch let error as ControlError where error.code == .invalidArgument {
            throw APIError.badRequest(error.message)
        }
        let result: String =
            switch outcome {
            case .credited: "credited"
            case .duplicate: "duplicate"
            case .ignored: "ignored"
            }
        return APIResponse.json(
            200, .object([("received", .bool(true)), ("result", .string(result))]))
    }
}
