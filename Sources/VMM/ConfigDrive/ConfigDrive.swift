import Foundation
import Support

/// Per-particle settings that reach the guest on a small read-only disk, `/dev/vdb`.
///
/// The drive is an ext4 file system without a partition table, made by `mkfs.ext4 -d`.
/// Every file is plain text ending in a newline:
///
/// ```
/// /version                       "1": the layout version
/// /hostname                      host name, one DNS label
/// /machine-id                    32 lowercase hex digits, for /etc/machine-id
/// /network/address               IPv4 address of eth0, for example 10.213.0.2
/// /network/mac                   MAC address of eth0, for example 52:54:0a:d5:00:02
/// /network/prefix-length         prefix length of that address, for example 24
/// /network/gateway               IPv4 default gateway
/// /network/dns                   one name server address per line (may be empty)
/// /authorized_keys               root's authorized_keys: account keys and the platform key
/// /ssh/ssh_host_ed25519_key      the guest's SSH host private key (OpenSSH format), mode 0600
/// /ssh/ssh_host_ed25519_key.pub  its public key, which the host pins as the known host key
/// ```
///
/// The initramfs copies `machine-id` before systemd starts, and `particle-init.service`
/// applies the rest before the network and sshd start.
public struct ConfigDrive: Sendable, Equatable {
    /// Host name of the guest.
    public var hostname: String
    /// 32 lowercase hex digits, as in `/etc/machine-id`.
    public var machineID: String
    /// IPv4 address of the guest's eth0.
    public var address: String
    /// MAC address of the guest's eth0, which a guest restored from another's memory takes on.
    public var macAddress: String
    /// Prefix length of the guest's subnet, 0-32.
    public var prefixLength: Int
    /// IPv4 address of the default gateway (the bridge).
    public var gateway: String
    /// Name server addresses for `/etc/resolv.conf`.
    public var dns: [String]
    /// OpenSSH public key lines for root's `authorized_keys`.
    public var authorizedKeys: [String]
    /// The guest's ed25519 host private key in OpenSSH format (`-----BEGIN OPENSSH ...`).
    public var hostKeyPrivate: String
    /// The matching public key line, `ssh-ed25519 AAAA...`.
    public var hostKeyPublic: String

    /// Size of the drive image in bytes. The files need a few KiB.
    public static let imageBytes = 4 << 20

    public init(
        hostname: String, machineID: String, address: String, macAddress: String,
        prefixLength: Int, gateway: String, dns: [String], authorizedKeys: [String], hostKeyPrivate: String, hostKeyPublic: String
    ) {
        self.hostname = hostname
        self.machineID = machineID
        self.address = address
        self.macAddress = macAddress
        self.prefixLength = prefixLength
        self.gateway = gateway
        self.dns = dns
        self.authorizedKeys = authorizedKeys
        self.hostKeyPrivate = hostKeyPrivate
        self.hostKeyPublic = hostKeyPublic
    }

    /// Writes the drive as a raw ext4 image at `url`, replacing any file there.
    ///
    /// Validates every field first, because the guest writes them into its own configuration
    /// files and a newline in a value could add lines there. Runs `mkfs.ext4` (tens of ms) and
    /// blocks the calling thread.
    public func write(to url: URL) throws {
        try validate()
        let files = FileManager.default
        let staging = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).staging-\(UUID().uuidString)")
        try files.createDirectory(at: staging, withIntermediateDirectories: true)
        defer { try? files.removeItem(at: staging) }

        let keys = authorizedKeys.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let contents: [(String, String, Int)] = [
            ("version", "1", 0o644),
            ("hostname", hostname, 0o644),
            ("machine-id", machineID, 0o644),
            ("network/address", address, 0o644),
            ("network/mac", macAddress, 0o644),
            ("network/prefix-length", String(prefixLength), 0o644),
            ("network/gateway", gateway, 0o644),
            ("network/dns", dns.joined(separator: "\n"), 0o644),
            ("authorized_keys", keys.joined(separator: "\n"), 0o600),
            ("ssh/ssh_host_ed25519_key", hostKeyPrivate, 0o600),
            ("ssh/ssh_host_ed25519_key.pub", hostKeyPublic, 0o644),
        ]
        for (path, text, mode) in contents {
            let file = staging.appendingPathComponent(path)
            try files.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            let line = text.isEmpty || text.hasSuffix("\n") ? text : text + "\n"
            try Data(line.utf8).write(to: file)
            try files.setAttributes([.posixPermissions: mode], ofItemAtPath: file.path)
        }

        try? files.removeItem(at: url)
        try Command.run(
            "mkfs.ext4",
            [
                "-q", "-F", "-L", "particle-cfg", "-O", "^has_journal", "-E", "root_owner=0:0",
                "-d", staging.path, url.path, "\(Self.imageBytes / 1024)k",
            ])
    }

    /// Throws `ConfigDriveError` naming the first field that the guest could not use safely.
    public func validate() throws {
        guard Self.isDNSLabel(hostname) else {
            throw ConfigDriveError(
                field: "hostname", value: hostname,
                expected: "1-63 lowercase letters, digits or hyphens, no leading or trailing hyphen"
            )
        }
        guard machineID.count == 32, machineID.allSatisfy({ $0.isHexDigit && !$0.isUppercase })
        else {
            throw ConfigDriveError(
                field: "machineID", value: machineID,
                expected: "32 lowercase hex digits")
        }
        let addresses = [("address", address), ("gateway", gateway)] + dns.map { ("dns", $0) }
        for (field, value) in addresses where !Self.isIPv4(value) {
            throw ConfigDriveError(field: field, value: value, expected: "a dotted IPv4 address")
        }
        guard Self.isMACAddress(macAddress) else {
            throw ConfigDriveError(
                field: "macAddress", value: macAddress,
                expected: "six two-digit lowercase hex bytes separated by colons")
        }
        guard (0...32).contains(prefixLength) else {
            throw ConfigDriveError(
                field: "prefixLength", value: String(prefixLength),
                expected: "0-32")
        }
        let keys =
            authorizedKeys.map { ("authorizedKeys", $0) } + [("hostKeyPublic", hostKeyPublic)]
        for (field, key) in keys where !Self.isSingleLine(key) {
            throw ConfigDriveError(
                field: field, value: String(key.prefix(20)),
                expected: "one OpenSSH public key on one line")
        }
        guard hostKeyPrivate.contains("BEGIN OPENSSH PRIVATE KEY") else {
            // Never echo private key material into an error.
            throw ConfigDriveError(
                field: "hostKeyPrivate", value: "(hidden)",
                expected: "an OpenSSH private key")
        }
    }

    static func isMACAddress(_ text: String) -> Bool {
        let bytes = text.split(separator: ":", omittingEmptySubsequences: false)
        return bytes.count == 6
            && bytes.allSatisfy { $0.count == 2 && $0.allSatisfy { $0.isHexDigit && !$0.isUppercase } }
    }

    static func isDNSLabel(_ text: String) -> Bool {
        guard (1...63).contains(text.count), !text.hasPrefix("-"), !text.hasSuffix("-") else {
            return false
        }
        return text.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    static func isSingleLine(_ text: String) -> Bool {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return !trimmed.isEmpty && !trimmed.contains(where: \.isNewline)
    }

    static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                part.count <= 3 && part.allSatisfy(\.isASCII) && UInt8(part) != nil
            }
    }
}

/// An invalid config drive field. The description names the field and the expected form.
public struct ConfigDriveError: Error, CustomStringConvertible, Sendable {
    public var field: String
    public var value: String
    public var expected: String

    public var description: String {
        "invalid config drive field \(field) '\(value)': expected \(expected)"
    }
}
