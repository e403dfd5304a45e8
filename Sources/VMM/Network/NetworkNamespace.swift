import Control
import Foundation
import Support

/// Particle's network namespace: a bridge with one isolated tap per guest.
///
/// Guests live only here. The bridge carries the subnet's first address (the guests' gateway);
/// bridge port isolation keeps guests from reaching each other. Nothing routes between this
/// namespace and the host's, so no guest address is reachable from the host's network.
public struct NetworkNamespace: Sendable {
    public let name: String
    public let pool: AddressPool
    public static let bridgeName = "pbr0"

    public init(name: String, pool: AddressPool) {
        self.name = name
        self.pool = pool
    }

    /// The file that names the namespace, as `ip netns add` creates it.
    public var path: String { "/run/netns/\(name)" }

    /// Creates the namespace and its bridge if they are missing; safe to call on every start.
    public func setUp() throws {
        if !FileManager.default.fileExists(atPath: path) {
            try Command.run("ip", ["netns", "add", name])
        }
        try ip(["link", "set", "lo", "up"])
        if (try? ip(["link", "show", Self.bridgeName])) == nil {
            try ip(["link", "add", Self.bridgeName, "type", "bridge"])
        }
        _ = try? ip(["addr", "add", "\(pool.gateway)/\(pool.prefixLength)", "dev", Self.bridgeName])
        try ip(["link", "set", Self.bridgeName, "up"])
        let addresses = try ip(["-o", "-4", "addr", "show", "dev", Self.bridgeName]).output
        guard addresses.contains(" \(pool.gateway)/\(pool.prefixLength) ") else {
            throw ControlError.unavailable(
                "bridge \(Self.bridgeName) in network namespace '\(name)' does not carry"
                    + " \(pool.gateway)/\(pool.prefixLength); another subnet was configured"
                    + " for this namespace before. Use --netns with a new name or delete it with"
                    + " `ip netns delete \(name)`")
        }
    }

    /// Creates `tap` on the bridge for the guest with `address` and `mac`, replacing a stale one.
    ///
    /// The port is isolated from the other guests and learns no MAC addresses, because a static
    /// entry maps the guest's MAC to it. The bridge's neighbor entry for the address is
    /// permanent. So a guest that claims another guest's address or MAC gets none of its traffic.
    public func addTap(_ tap: String, address: String, mac: String) throws {
        try? removeTap(tap)
        try ip(["tuntap", "add", "dev", tap, "mode", "tap"])
        try ip(["link", "set", tap, "master", Self.bridgeName])
        try Command.run(
            "bridge", ["-n", name, "link", "set", "dev", tap, "isolated", "on", "learning", "off"])
        try Command.run("bridge", ["-n", name, "fdb", "replace", mac, "dev", tap, "master", "static"])
        try ip(["neigh", "replace", address, "lladdr", mac, "dev", Self.bridgeName, "nud", "permanent"])
        try ip(["link", "set", tap, "up"])
    }

    /// Whether `tap` exists. A sleeping particle keeps its tap, so a wake need not make it again.
    public func hasTap(_ tap: String) -> Bool {
        (try? ip(["link", "show", "dev", tap])) != nil
    }

    /// Deletes `tap` and its FDB entry. The neighbor entry stays: a guest's MAC is derived from
    /// its address, so the entry stays right for whichever guest gets the address next.
    public func removeTap(_ tap: String) throws {
        try ip(["link", "delete", tap])
    }

    /// Deletes the namespace and everything in it (used by tests that made their own).
    public func tearDown() throws {
        try Command.run("ip", ["netns", "delete", name])
    }

    @discardableResult
    private func ip(_ arguments: [String]) throws -> CommandResult {
        try Command.run("ip", ["-n", name] + arguments)
    }
}
