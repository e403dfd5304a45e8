import Control
import HTTPProxy

/// One REST endpoint: a method, a path pattern with `:parameter` segments, and its handler.
struct Route: Sendable {
    typealias Handler = @Sendable (APIRequest, Control) async throws -> HTTPResponse

    var method: String
    var pattern: String
    /// Whether the endpoint needs `Authorization: Bearer <key>`.
    var authenticated: Bool = true
    var handler: Handler

    private var segments: [Substring] { pattern.split(separator: "/", omittingEmptySubsequences: false) }

    /// Matches `path` and returns the path parameters, or nil when it does not match.
    func match(_ path: String) -> [String: String]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        let expected = segments
        guard parts.count == expected.count else { return nil }
        var parameters: [String: String] = [:]
        for (part, segment) in zip(parts, expected) {
            if segment.hasPrefix(":") {
                guard !part.isEmpty, let decoded = String(part).removingPercentEncoding else { return nil }
                parameters[String(segment.dropFirst())] = decoded
            } else if part != segment {
                return nil
            }
        }
        return parameters
    }
}

/// Splits a request target into its path and its decoded query parameters.
func splitTarget(_ target: String) -> (path: String, query: [String: String]) {
    guard let mark = target.firstIndex(of: "?") else { return (target, [:]) }
    var query: [String: String] = [:]
    for pair in target[target.index(after: mark)...].split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let key = String(parts[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
        let value = parts.count > 1
            ? String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" : ""
        query[key] = value
    }
    return (String(target[..<mark]), query)
}
