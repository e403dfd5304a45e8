import Control
import Foundation
import HTTPProxy

extension APIResponder {
    static var accountRoutes: [Route] {
        [
            Route(method: "GET", pattern: "/v1/accounts/challenge", authenticated: false) { _, control in
                let (challenge, expiresAt) = control.challenges.issue()
                return APIResponse.json(
                    200,
                    .object([
                        ("challenge", .string(challenge)), ("namespace", .string("particle")),
                        ("expires_at", JSON.time(expiresAt)),
                    ]))
            },
            Route(method: "POST", pattern: "/v1/accounts", authenticated: false) { request, control in
                let body = try request.jsonBody()
                let publicKey = try body.requiredString("public_key")
                let challenge = try body.requiredString("challenge")
                let signature = try body.requiredString("signature")
                let (account, apiKey) = try await control.createAccount(
                    publicKey: publicKey, challenge: challenge, signature: signature)
                return APIResponse.json(
                    201, .object([("account_id", .string(account.id)), ("api_key", .string(apiKey))]))
            },
            Route(method: "GET", pattern: "/v1/account") { request, control in
                APIResponse.json(200, try await control.account(id: request.accountID).json)
            },
            Route(method: "POST", pattern: "/v1/account/rotate-key") { request, control in
                let key = try await control.rotateAPIKey(accountID: request.accountID)
                return APIResponse.json(
                    200,
                    .object([
                        ("api_key", .string(key)), ("message", .string("API key rotated. Old key is now invalid.")),
                    ]))
            },
        ]
    }

    static var keyRoutes: [Route] {
        [
            Route(method: "GET", pattern: "/v1/keys") { request, control in
                let keys = try await control.keys(accountID: request.accountID)
                return APIResponse.json(200, .object([("keys", .array(keys.map(\.json)))]))
            },
            Route(method: "POST", pattern: "/v1/keys") { request, control in
                let body = try request.jsonBody()
                let key = try await control.addKey(
                    accountID: request.accountID, publicKey: try body.requiredString("public_key"),
                    name: try body.string("name"), challenge: try body.requiredString("challenge"),
                    signature: try body.requiredString("signature"))
                return APIResponse.json(201, .object([("id", .string(key.id)), ("name", .string(key.name))]))
            },
            Route(method: "DELETE", pattern: "/v1/keys/:id") { request, control in
                try await control.removeKey(accountID: request.accountID, id: request.parameter("id"))
                return APIResponse.noContent
            },
        ]
    }

    static var metaRoutes: [Route] {
        [
            Route(method: "GET", pattern: "/v1/images") { _, control in
                let images = await control.images()
                return APIResponse.json(200, .object([("images", .array(images.map(\.json)))]))
            },
            Route(method: "GET", pattern: "/v1/cli/version", authenticated: false) { _, _ in
                APIResponse.json(200, .object([("version", .string(ParticleVersion.current))]))
            },
            Route(method: "GET", pattern: "/v1/openapi.json", authenticated: false) { _, _ in
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                return HTTPResponse(status: 200, headers: headers, body: Array(OpenAPIDocument.json.utf8))
            },
        ]
    }
}
