import Control
import Foundation
import HTTPProxy

extension APIResponder {
    static var particleRoutes: [Route] {
        [
            Route(method: "POST", pattern: "/v1/particles") { request, control in
                let body = try request.jsonBody()
                let name = try body.requiredString("name")
                let size = try ParticleSize.parse(try body.string("size") ?? "p1")
                let particle = try await control.createParticle(
                    accountID: request.accountID, name: name, size: size, image: try body.string("image"))
                return APIResponse.json(201, particle.createdJSON)
            },
            Route(method: "GET", pattern: "/v1/particles") { request, control in
                let particles = try await control.particles(accountID: request.accountID)
                return APIResponse.json(200, .object([("particles", .array(particles.map(\.summaryJSON)))]))
            },
            Route(method: "GET", pattern: "/v1/particles/:name") { request, control in
                let particle = try await control.particle(accountID: request.accountID, name: request.parameter("name"))
                return APIResponse.json(200, particle.detailJSON)
            },
            Route(method: "DELETE", pattern: "/v1/particles/:name") { request, control in
                try await control.deleteParticle(accountID: request.accountID, name: request.parameter("name"))
                return APIResponse.noContent
            },
            Route(method: "POST", pattern: "/v1/particles/:name/start") { request, control in
                let particle = try await control.startParticle(
                    accountID: request.accountID, name: request.parameter("name"))
                return APIResponse.json(200, particle.detailJSON)
            },
            Route(method: "POST", pattern: "/v1/particles/:name/stop") { request, control in
                let particle = try await control.stopParticle(
                    accountID: request.accountID, name: request.parameter("name"))
                return APIResponse.json(200, particle.detailJSON)
            },
            Route(method: "POST", pattern: "/v1/particles/:name/sleep") { request, control in
                let particle = try await control.sleepParticle(
                    accountID: request.accountID, name: request.parameter("name"))
                return APIResponse.json(200, particle.detailJSON)
            },
            Route(method: "GET", pattern: "/v1/particles/:name/why-awake") { request, control in
                let report = try await control.whyAwake(accountID: request.accountID, name: request.parameter("name"))
                return APIResponse.json(200, report.json)
            },
            Route(method: "GET", pattern: "/v1/particles/:name/logs", handler: logs),
            Route(method: "GET", pattern: "/v1/particles/:name/status") { request, control in
                let report = try await control.status(accountID: request.accountID, name: request.parameter("name"))
                return APIResponse.json(200, report.json)
            },
            Route(method: "POST", pattern: "/v1/particles/:name/exec") { request, control in
                let command = try request.jsonBody().requiredString("command")
                let result = try await control.exec(
                    accountID: request.accountID, name: request.parameter("name"), command: command)
                return APIResponse.json(200, result.json)
            },
        ]
    }

    private static func logs(_ request: APIRequest, _ control: Control) async throws -> HTTPResponse {
        var offset = 0
        if let text = request.query["offset"] {
            guard let value = Int(text), value >= 0 else {
                throw APIError.badRequest("invalid query parameter offset '\(text)'; use a byte offset of 0 or more")
            }
            offset = value
        }
        let (particle, bytes, next) = try await control.logs(
            accountID: request.accountID, name: request.parameter("name"), offset: offset)
        return APIResponse.json(
            200,
            .object([
                ("logs", .string(String(decoding: bytes, as: UTF8.self))), ("offset", .int(Int64(next))),
                ("status", .string(particle.status.rawValue)),
            ]))
    }
}
