import Control
import HTTPProxy

/// An error of the REST layer itself (framing, JSON, routing), mapped like `ControlError`.
public struct APIError: Error {
    var status: Int
    var code: String
    var message: String
    var headers: HTTPHeaders = HTTPHeaders()

    static func badRequest(_ message: String) -> APIError {
        APIError(status: 400, code: "invalid_request", message: message)
    }
}

extension APIError {
    /// The status and code of a Control error in the REST API.
    ///
    /// Invalid arguments are 422 because the request was well-formed JSON whose value broke a
    /// rule (a size, port or name); malformed JSON and wrong types are 400, raised before.
    init(_ error: ControlError) {
        let status: Int =
            switch error.code {
            case .invalidArgument: 422
            case .notFound: 404
            case .conflict, .invalidState: 409
            case .paymentRequired: 402
            case .unauthorized: 401
            case .forbidden: 403
            case .rateLimited: 429
            case .unavailable: 503
            case .internal: 500
            }
        self.init(status: status, code: error.code.rawValue, message: error.message)
        if let seconds = error.retryAfterSeconds {
            headers.add(name: "Retry-After", value: String(seconds))
        }
    }

    var response: HTTPResponse {
        let body = JSON.object([
            ("error", .object([("code", .string(code)), ("message", .string(message))]))
        ])
        var response = APIResponse.json(status, body)
        for field in headers { response.headers.add(name: field.name, value: field.value) }
        return response
    }
}

extension APIError {
    /// Returns the JSON form of an error that the HTTP server itself sends (malformed framing, a body
    /// over the limit, a slow client), so that API clients get one error shape everywhere.
    public static func serverErrorResponse(status: Int, message: String) -> HTTPResponse {
        let codes = [
            400: "invalid_request", 408: "request_timeout", 411: "length_required",
            413: "payload_too_large", 414: "uri_too_long", 431: "headers_too_large",
            501: "not_implemented", 505: "http_version_not_supported",
        ]
        return APIError(status: status, code: codes[status] ?? "http_error", message: message).response
    }
}

/// Builders of REST responses.
enum APIResponse {
    static func json(_ status: Int, _ value: JSON) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: status, headers: headers, body: Array((value.serialized(pretty: true) + "\n").utf8))
    }

    static let noContent = HTTPResponse(status: 204)
}
