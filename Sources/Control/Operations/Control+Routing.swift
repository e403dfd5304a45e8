/// The destination of a proxied request: one port of one particle.
public struct ProxyDestination: Sendable, Equatable {
    public var particle: Particle
    public var port: Int
}

/// The candidate readings of a particle host name's first label.
///
/// `<name>-<port>-<acct>` and `<name>-<acct>` can overlap, because names may end in a
/// hyphen and digits (`web-8000-<acct>` is port 8000 of `web`, or the default port of a particle
/// named `web-8000`). The port reading is tried first, then the whole-name one.
struct HostNameRoute: Equatable {
    var name: String
    var port: Int?
    var accountID: String

    static func candidates(host: String, domain: String) -> [HostNameRoute] {
        let suffix = "." + domain.lowercased()
        let host = host.lowercased()
        guard host.hasSuffix(suffix) else { return [] }
        let label = String(host.dropLast(suffix.count))
        guard !label.contains("."), label.count > 13 else { return [] }

        let accountID = String(label.suffix(12))
        guard label.dropLast(12).hasSuffix("-"),
            accountID.allSatisfy({ $0.isHexDigit && !$0.isUppercase })
        else { return [] }
        let rest = String(label.dropLast(13))

        var routes: [HostNameRoute] = []
        if let hyphen = rest.lastIndex(of: "-"),
            let port = Int(rest[rest.index(after: hyphen)...]), (1...65535).contains(port),
            String(port) == rest[rest.index(after: hyphen)...]
        {
            routes.append(HostNameRoute(name: String(rest[..<hyphen]), port: port, accountID: accountID))
        }
        routes.append(HostNameRoute(name: rest, port: nil, accountID: accountID))
        return routes.filter { (try? ParticleName.validate($0.name)) != nil }
    }
}

extension Control {
    /// Finds the particle and port that `host` (a Host header without port) names.
    public func resolveHost(_ host: String) async throws -> ProxyDestination {
        if let particle = try await store.particle(customDomain: host.lowercased()) {
            return ProxyDestination(particle: particle, port: particle.httpPort)
        }
        for route in HostNameRoute.candidates(host: host, domain: configuration.domain) {
            if let particle = try await store.particle(accountID: route.accountID, name: route.name) {
                return ProxyDestination(particle: particle, port: route.port ?? particle.httpPort)
            }
        }
        throw ControlError.notFound("no particle answers at \(host)")
    }

    /// Opens a TCP connection to the destination's guest port; the caller owns the socket.
    public func connect(to destination: ProxyDestination) async throws -> Int32 {
        let particle = destination.particle
        guard particle.status == .running else {
            throw ControlError.unavailable(
                "particle '\(particle.name)' is \(particle.status.rawValue); start it with"
                    + " `start \(particle.name)`")
        }
        return try await hypervisor.connect(address: particle.address, port: destination.port)
    }
}
