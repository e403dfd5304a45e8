import Control
import HTTPProxy

extension APIResponder {
    static var diskRoutes: [Route] {
        [
            Route(method: "PUT", pattern: "/v1/particles/:name/resize") { request, control in
                let size = try request.jsonBody().requiredString("size")
                let particle = try await control.resizeParticle(
                    accountID: request.accountID, name: request.parameter("name"), size: size)
                return APIResponse.json(200, particle.detailJSON)
            },
            Route(method: "POST", pattern: "/v1/particles/:name/rebuild") { request, control in
                let particle = try await control.rebuildParticle(
                    accountID: request.accountID, name: request.parameter("name"), image: request.query["image"])
                return APIResponse.json(200, particle.detailJSON)
            },
            Route(method: "POST", pattern: "/v1/particles/:name/duplicate") { request, control in
                let body = try request.jsonBody()
                let newName = try body.requiredString("name")
                let copy = try await control.duplicateParticle(
                    accountID: request.accountID, name: request.parameter("name"), newName: newName,
                    withMemory: try body.bool("with_memory") ?? false)
                return APIResponse.json(201, copy.createdJSON)
            },
            Route(method: "POST", pattern: "/v1/particles/:name/snapshots") { request, control in
                let snapshotName = try request.jsonBody().requiredString("name")
                let snapshot = try await control.createSnapshot(
                    accountID: request.accountID, name: request.parameter("name"), snapshotName: snapshotName)
                return APIResponse.json(201, snapshot.createdJSON)
            },
            Route(method: "GET", pattern: "/v1/particles/:name/snapshots") { request, control in
                let snapshots = try await control.snapshots(accountID: request.accountID, name: request.parameter("name"))
                return APIResponse.json(200, .object([("snapshots", .array(snapshots.map(\.summaryJSON)))]))
            },
            Route(method: "POST", pattern: "/v1/particles/:name/snapshots/:snapshot/restore") { request, control in
                try await control.restoreSnapshot(
                    accountID: request.accountID, name: request.parameter("name"), snapshot: request.parameter("snapshot"))
                return APIResponse.json(200, .object([("status", .string("restored"))]))
            },
            Route(method: "DELETE", pattern: "/v1/particles/:name/snapshots/:snapshot") { request, control in
                try await control.deleteSnapshot(
                    accountID: request.accountID, name: request.parameter("name"), snapshot: request.parameter("snapshot"))
                return APIResponse.noContent
            },
        ]
    }
}
