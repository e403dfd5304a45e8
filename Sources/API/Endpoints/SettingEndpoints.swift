import Control
import HTTPProxy

extension APIResponder {
    static var settingRoutes: [Route] {
        [
            Route(method: "POST", pattern: "/v1/particles/:name/rename") { request, control in
                let newName = try request.jsonBody().requiredString("name")
                let particle = try await control.renameParticle(
                    accountID: request.accountID, name: request.parameter("name"), newName: newName)
                return APIResponse.json(200, particle.detailJSON)
            },
            Route(method: "PUT", pattern: "/v1/particles/:name/port") { request, control in
                let port = try request.jsonBody().requiredInteger("http_port")
                let particle = try await control.setHTTPPort(
                    accountID: request.accountID, name: request.parameter("name"), port: port)
                return APIResponse.json(200, particle.detailJSON)
            },
            Route(method: "PUT", pattern: "/v1/particles/:name/idle") { request, control in
                let body = try request.jsonBody()
                let particle = try await control.setIdlePolicy(
                    accountID: request.accountID, name: request.parameter("name"),
                    policy: try body.requiredString("policy"),
                    timeoutSeconds: try body.integer("timeout_seconds"), schedule: try body.string("schedule"))
                return APIResponse.json(200, particle.detailJSON)
            },
            Route(method: "PUT", pattern: "/v1/particles/:name/domain") { request, control in
                let domain = try request.jsonBody().requiredString("domain")
                let particle = try await control.setCustomDomain(
                    accountID: request.accountID, name: request.parameter("name"), domain: domain)
                return APIResponse.json(200, particle.detailJSON)
            },
            Route(method: "DELETE", pattern: "/v1/particles/:name/domain") { request, control in
                let particle = try await control.removeCustomDomain(
                    accountID: request.accountID, name: request.parameter("name"))
                return APIResponse.json(200, particle.detailJSON)
            },
        ]
    }
}
