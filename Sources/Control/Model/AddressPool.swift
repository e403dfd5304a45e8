/// The IPv4 subnet that guests get their addresses from.
///
/// The first host address is the bridge's (the guests' gateway); guests get the ones after it.
public struct AddressPool: Sendable, Equatable, CustomStringConvertible {
    public let network: UInt32
    public let prefixLength: Int

    /// Parses a CIDR such as `10.213.0.0/16`; the prefix must leave room for at least 2 guests.
    public init(cidr: String) throws(ControlError) {
        let parts = cidr.split(separator: "/")
        let hint = "use an IPv4 CIDR with a prefix of /8 to /29, like 10.213.0.0/16"
        guard parts.count == 2, let prefix = Int(parts[1]), (8...29).contains(prefix),
            let address = AddressPool.parse(String(parts[0]))
        else {
            throw .invalidArgument("invalid subnet '\(cidr)'; \(hint)")
        }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
        self.network = address & mask
        self.prefixLength = prefix
    }

    public var description: String { "\(AddressPool.format(network))/\(prefixLength)" }

    /// The bridge's address, which guests use as their default gateway.
    public var gateway: String { AddressPool.format(network + 1) }

    /// The guest addresses, in order: every host address after the gateway's but the last.
    public var guestAddresses: some Sequence<String> {
        let count = (UInt32(1) << (32 - prefixLength)) - 1
        return (2..<count - 1).lazy.map { AddressPool.format(network + $0) }
    }

    /// The last host address, kept from particles for the guests that templates are made from.
    public var templateAddress: String {
        AddressPool.format(network + (UInt32(1) << (32 - prefixLength)) - 2)
    }

    public static func parse(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard let byte = UInt8(octet), String(byte) == octet else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }

    public static func format(_ address: UInt32) -> String {
        "\(address >> 24).\(address >> 16 & 0xff).\(address >> 8 & 0xff).\(address & 0xff)"
    }
}
