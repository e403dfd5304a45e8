import Control
import Foundation
import HTTPProxy
import Support

/// The `/v1` REST API: a thin adapter from HTTP requests to `Control` operations.
public struct APIResponder: HTTPResponder {
    /// Request bodies over this many bytes are rejected with 413.
    public static let maxBodyBytes = 1 << 20

    let control: Control
    let logger: Logger
    let routes: [Route]
    /// Requests per API key, and per source address on the endpoints without a key.
    let keyLimiter: RateLimiter
    let addressLimiter: RateLimiter

    /// `requestsPerMinute` bounds each API key, and each source address on public endpoints.
    public init(control: Control, logger: Logger, requestsPerMinute: Int = 600) {
        self.control = control
        self.logger = logger
        self.routes = Self.allRoutes
        keyLimiter = RateLimiter(capacity: requestsPerMinute, period: 60)
        addressLimiter = RateLimiter(capacity: requestsPerMinute, period: 60)
    }

    static var allRoutes: [Route] {
        accountRoutes + particleRoutes + settingRoutes + diskRoutes + keyRoutes + metaRoutes
            + billingRoutes
    }

    public func route(_ head: HTTPRequestHead) async -> HTTPAction {
        let (path, query) = splitTarget(head.target)
        let candidates = routes.compactMap { route in route.match(path).map { (route, $0) } }
        guard !candidates.isEmpty else {
            return .respond(APIError(status: 404, code: "not_found", message: "no endpoint at \(path); see GET /v1/openapi.json").response)
        }
        let method = head.method == "HEAD" ? "GET" : head.method
        guard let (route, parameters) = candidates.first(where: { $0.0.method == method }) else {
            let allowed = Array(Set(candidates.map(\.0.method))).sorted().joined(separator: ", ")
            var error = APIError(
                status: 405, code: "method_not_allowed",
                message: "\(head.method) is not allowed on \(path); use \(allowed)")
            error.headers.add(name: "Allow", value: allowed)
            return .respond(error.response)
        }

        var request = APIRequest(head: head, body: [], parameters: parameters, query: query, account: nil)
        do {
            if route.authenticated {
                let account: Account
                do {
                    account = try await authenticate(head)
                } catch {
                    // Failed keys count against the source address, so guessing is slowed too.
                    try limit(addressLimiter, key: head.remoteAddress)
                    throw error
                }
                try limit(keyLimiter, key: account.id)
                request.account = account
            } else {
                try limit(addressLimiter, key: head.remoteAddress)
            }
            guard Self.hasBody(head) else {
                return .respond(await run(route, request))
            }
            try Self.checkBodyHeaders(head)
        } catch {
            return .respond(errorResponse(error, head: head))
        }
        let authenticated = request
        return .readBody(limit: Self.maxBodyBytes) { _, body in
            var request = authenticated
            request.body = body
            return await run(route, request)
        }
    }

    private func run(_ route: Route, _ request: APIRequest) async -> HTTPResponse {
        do {
            return try await route.handler(request, control)
        } catch {
            return errorResponse(error, head: request.head)
        }
    }

    private func authenticate(_ head: HTTPRequestHead) async throws -> Account {
        guard head.headers.values(for: "Authorization").count <= 1 else {
            throw APIError.badRequest("repeated Authorization header; send it once")
        }
        guard let header = head.headers["Authorization"] else {
            throw ControlError(.unauthorized, "missing Authorization header; send Authorization: Bearer <api key>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw ControlError(.unauthorized, "malformed Authorization header; send Authorization: Bearer <api key>")
        }
        return try await control.account(apiKey: String(parts[1]).trimmingCharacters(in: .whitespaces))
    }

    private func limit(_ limiter: RateLimiter, key: String) throws {
        guard let wait = limiter.take(key) else { return }
        let seconds = max(1, Int(wait.rounded(.up)))
        var error = APIError(
            status: 429, code: "rate_limited",
            message: "too many requests: the limit is \(limiter.capacity) per minute; retry in \(seconds) s")
        error.headers.add(name: "Retry-After", value: String(seconds))
        throw error
    }

    static func hasBody(_ head: HTTPRequestHead) -> Bool {
        if head.headers.contains("Transfer-Encoding") { return true }
        return (head.headers["Content-Length"].flatMap { Int($0) } ?? 0) > 0
    }

    /// Rejects a body that is not JSON (415) or that declares more than the limit (413).
    static func checkBodyHeaders(_ head: HTTPRequestHead) throws {
        let type = head.headers["Content-Type"]?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/json" else {
            throw APIError(
                status: 415, code: "unsupported_media_type",
                message: "request bodies must be JSON; send Content-Type: application/json")
        }
        if let length = head.headers["Content-Length"].flatMap({ Int($0) }), length > maxBodyBytes {
            throw APIError(
                status: 413, code: "payload_too_large",
                message: "request body of \(length) bytes is over the limit of \(maxBodyBytes) bytes")
        }
    }

    private func errorResponse(_ error: any Error, head: HTTPRequestHead) -> HTTPResponse {
        switch error {
        case let error as APIError:
            return error.response
        case let error as ControlError:
            if error.code == .internal {
                logger.error("request failed", ["path": head.path, "error": error.cause ?? error.message])
            }
            return APIError(error).response
        default:
            logger.error("request failed", ["path": head.path, "error": "\(error)"])
            return APIError(status: 500, code: "internal", message: "internal error; see particled's log").response
        }
    }
}
