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
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            throw APIError.badRequest("invalid JSON in request body: \(Self.describe(error))")
        }
        guard let object = value as? [String: Any] else {
            throw APIError.badRequest("invalid JSON body: expected an object like {\"name\": \"web\"}")
        }
        return JSONBody(object: object)
    }

    private static func describe(_ error: any Error) -> String {
        let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        return text ?? "not valid JSON"
    }
}

/// A request's JSON object with typed field access; wrong types are 400 errors naming the field.
struct JSONBody: @unchecked Sendable {
    // Values from JSONSerialization: strings, numbers, booleans, arrays, dictionaries, NSNull.
    let object: [String: Any]

    func string(_ field: String) throws -> String? {
        guard let value = object[field], !(value is NSNull) else { return nil }
        guard let text = value as? String else {
            throw APIError.badRequest("invalid field '\(field)': expected a string")
        }
        return text
    }

    func requiredString(_ field: String) throws -> String {
        guard let text = try string(field) else {
            throw APIError.badRequest("missing field '\(field)'")
        }
        return text
    }

    func integer(_ field: String) throws -> Int? {
        guard let value = object[field], !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, CFGetTypeID(number) != CFBooleanGetTypeID(),
            let integer = Int(exactly: number.doubleValue), number.doubleValue.rounded() == number.doubleValue
        else {
            throw APIError.badRequest("invalid field '\(field)': expected an integer")
        }
        return integer
    }

    func requiredInteger(_ field: String) throws -> Int {
        guard let value = try integer(field) else {
            throw APIError.badRequest("missing field '\(field)'")
        }
        return value
    }
}
