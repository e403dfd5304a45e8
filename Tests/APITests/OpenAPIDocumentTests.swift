import Foundation
import Testing

@testable import API

@Suite struct OpenAPIDocumentTests {
    private func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
    }

    @Test func documentMatchesRoutes() throws {
        let paths = try #require(try document()["paths"] as? [String: [String: Any]])
        var documented = Set<String>()
        for (path, operations) in paths {
            for method in operations.keys { documented.insert("\(method.uppercased()) \(path)") }
        }
        let served = Set(
            APIResponder.allRoutes.map { route in
                let path = route.pattern.split(separator: "/", omittingEmptySubsequences: false).map { segment in
                    segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
                }.joined(separator: "/")
                return "\(route.method) \(path)"
            })
        #expect(served.subtracting(documented).sorted() == [], "served but not documented")
        #expect(documented.subtracting(served).sorted() == [], "documented but not served")
    }

    @Test func publicRoutesMatchSecurity() throws {
        let paths = try #require(try document()["paths"] as? [String: [String: [String: Any]]])
        for route in APIResponder.allRoutes {
            let path = route.pattern.replacing(/:(\w+)/) { "{\($0.1)}" }
            let operation = try #require(paths[path]?[route.method.lowercased()], "\(route.method) \(path)")
            let isPublic = (operation["security"] as? [Any])?.isEmpty == true
            #expect(isPublic == !route.authenticated, "\(route.method) \(path)")
        }
    }

    @Test func referencesResolve() throws {
        let schemas = try #require((try document()["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let references = OpenAPIDocument.json.matches(of: /"\$ref": "#\/components\/schemas\/(\w+)"/).map { String($0.1) }
        #expect(!references.isEmpty)
        for name in Set(references) {
            #expect(schemas[name] != nil, "missing schema \(name)")
        }
    }
}
