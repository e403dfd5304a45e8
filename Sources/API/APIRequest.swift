import Control
import Foundation
import HTTPProxy

/// One REST request after routing: its head, body, path parameters and query.
struct APIRequest: Sendable {
    var head: HTTPRequestHead
    var body: [UInt8]
    var parameters: [String: String]
    var query: [String: String]
    /// The caller's account; nil only on the endpoints that need no authentication.
    var account: Account?

    /// The authenticated account's id (every authenticated endpoint has one).
    var accountID: String { account!.id }

    func parameter(_ name: String) -> String { parameters[name] ?? "" }

    /// Parses the body as a JSON object; 400 naming the problem when it is not one.
    func jsonBody() throws -> JSONBody {
        guard !body.isEmpty else {
            throw APIError.badRequest("missing JSON body; send a JSON object with Content-Type: application/json")
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(body))
        } catch {
            throw APIError.badRequest("invalid JSON in request body: \(Self.describe(error))")
        }
        guard case .object(let object) = value else {
            throw APIError.badRequest("invalid JSON body: expected an object with the endpoint's fields")
        }
        return JSONBody(object: object)
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            let underlying = context.underlyingError.map { ($0 as NSError).userInfo[NSDebugDescriptionErrorKey] as? String }
            return (underlying ?? nil) ?? context.debugDescription
        }
        return "not valid JSON"
    }
}

/// A decoded JSON value that keeps booleans, integers and other numbers apart.
enum JSONValue: Decodable, Sendable {
    case null, bool(Bool), integer(Int64), number(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}

/// A request's JSON object with typed field access; wrong types are 400 errors naming the field.
struct JSONBody: Sendable {
    let object: [String: JSONValue]

    func string(_ field: String) throws -> String? {
        switch object[field] {
        case nil: return nil
        case .string(let text): return text
        default: throw APIError.badRequest("invalid field '\(field)': expected a string")
        }
    }

    func requiredString(_ field: String) throws -> String {
        guard let text = try string(field) else {
            throw APIError.badRequest("missing field '\(field)'")
        }
        return text
    }

    func bool(_ field: String) throws -> Bool? {
        switch object[field] {
        case nil: return nil
        case .bool(let value): return value
        default: throw APIError.badRequest("invalid field '\(field)': expected true or false")
        }
    }

    func integer(_ field: String) throws -> Int? {
        switch object[field] {
        case nil: return nil
        case .integer(let value) where Int(exactly: value) != nil: return Int(value)
        default: throw APIError.badRequest("invalid field '\(field)': expected an integer")
        }
    }

    func requiredInteger(_ field: String) throws -> Int {
        guard let value = try integer(field) else {
            throw APIError.badRequest("missing field '\(field)'")
        }
        return value
    }
}
