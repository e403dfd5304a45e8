import Control
import Foundation
import Support

/// `particled`'s settings: embedded defaults, then a JSON file, then command-line overrides.
struct Configuration: Codable {
    var stateDirectory = "/var/lib/particle"
    var listenAddress = "127.0.0.1"
    var sshPort = 2222
    var httpPort = 8080
    /// A port where every host name reaches the REST API (besides `api.<domain>` on `httpPort`).
    var apiPort = 8081
    var domain = "particle.localhost"
    var networkNamespace = "particle"
    var subnet = "10.213.0.0/16"
    /// `auto` probes KVM with a short boot and falls back to TCG; `kvm` or `tcg` force one.
    var accelerator = "auto"
    var bootTimeoutSeconds = 180
    var stopTimeoutSeconds = 30
    var logLevel = "info"
    var apiRequestsPerMinute = 600
    var quotaParticles = 20
    var quotaVCPUs = 32
    var quotaSnapshots = 50
    var billing = BillingConfiguration()
    var idle = IdlePolicyConfiguration()
    var gateway = GatewayConfiguration()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case stateDirectory = "state_dir"
        case listenAddress = "listen_address"
        case sshPort = "ssh_port"
        case httpPort = "http_port"
        case apiPort = "api_port"
        case domain
        case networkNamespace = "netns"
        case subnet
        case accelerator
        case bootTimeoutSeconds = "boot_timeout_seconds"
        case stopTimeoutSeconds = "stop_timeout_seconds"
        case logLevel = "log_level"
        case apiRequestsPerMinute = "api_requests_per_minute"
        case quotaParticles = "quota_particles"
        case quotaVCPUs = "quota_vcpus"
        case quotaSnapshots = "quota_snapshots"
    }

    init() {}

    /// Reads only the keys present in the file, keeping the defaults for the others.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Configuration()
        stateDirectory = try container.decodeIfPresent(String.self, forKey: .stateDirectory) ?? defaults.stateDirectory
        listenAddress = try container.decodeIfPresent(String.self, forKey: .listenAddress) ?? defaults.listenAddress
        sshPort = try container.decodeIfPresent(Int.self, forKey: .sshPort) ?? defaults.sshPort
        httpPort = try container.decodeIfPresent(Int.self, forKey: .httpPort) ?? defaults.httpPort
        apiPort = try container.decodeIfPresent(Int.self, forKey: .apiPort) ?? defaults.apiPort
        domain = try container.decodeIfPresent(String.self, forKey: .domain) ?? defaults.domain
        networkNamespace = try container.decodeIfPresent(String.self, forKey: .networkNamespace) ?? defaults.networkNamespace
        subnet = try container.decodeIfPresent(String.self, forKey: .subnet) ?? defaults.subnet
        accelerator = try container.decodeIfPresent(String.self, forKey: .accelerator) ?? defaults.accelerator
        bootTimeoutSeconds = try container.decodeIfPresent(Int.self, forKey: .bootTimeoutSeconds) ?? defaults.bootTimeoutSeconds
        stopTimeoutSeconds = try container.decodeIfPresent(Int.self, forKey: .stopTimeoutSeconds) ?? defaults.stopTimeoutSeconds
        logLevel = try container.decodeIfPresent(String.self, forKey: .logLevel) ?? defaults.logLevel
        apiRequestsPerMinute = try container.decodeIfPresent(Int.self, forKey: .apiRequestsPerMinute) ?? defaults.apiRequestsPerMinute
        quotaParticles = try container.decodeIfPresent(Int.self, forKey: .quotaParticles) ?? defaults.quotaParticles
        quotaVCPUs = try container.decodeIfPresent(Int.self, forKey: .quotaVCPUs) ?? defaults.quotaVCPUs
        quotaSnapshots = try container.decodeIfPresent(Int.self, forKey: .quotaSnapshots) ?? defaults.quotaSnapshots
        billing = try BillingConfiguration(from: decoder)
        idle = try IdlePolicyConfiguration(from: decoder)
        gateway = try GatewayConfiguration(from: decoder)
    }

    /// Loads `path`, rejecting unknown keys so that a typo does not silently keep a default.
    static func load(path: String) throws -> Configuration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw StartupError("cannot read config file \(path): \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw StartupError("config file \(path) is not a JSON object; see README.md for its keys")
        }
        let known = Set(
            CodingKeys.allCases.map(\.rawValue) + BillingConfiguration.CodingKeys.allCases.map(\.rawValue)
                + IdlePolicyConfiguration.CodingKeys.allCases.map(\.rawValue)
                + GatewayConfiguration.CodingKeys.allCases.map(\.rawValue))
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw StartupError(
                "unknown key '\(unknown)' in \(path); valid keys: \(known.sorted().joined(separator: ", "))")
        }
        do {
            return try JSONDecoder().decode(Configuration.self, from: data)
        } catch DecodingError.typeMismatch(_, let context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw StartupError("invalid value for '\(key)' in \(path): \(context.debugDescription)")
        } catch {
            throw invalidValue(in: object, path: path) ?? StartupError("invalid config file \(path): \(error)")
        }
    }

    /// Finds the key whose value fails to decode, by decoding each key alone, and describes it.
    ///
    /// JSONDecoder (Foundation of Swift 6.3) rejects a number that does not fit an integer key,
    /// like 1.5 or 1e30, as data that is not valid JSON, without naming the key.
    private static func invalidValue(in object: [String: Any], path: String) -> StartupError? {
        for key in object.keys.sorted() {
            guard let single = try? JSONSerialization.data(withJSONObject: [key: object[key]!]),
                (try? JSONDecoder().decode(Configuration.self, from: single)) == nil
            else { continue }
            guard let number = object[key] as? NSNumber else {
                return StartupError("invalid value for '\(key)' in \(path)")
            }
            let value = number.doubleValue
            let whole = "invalid value \(number) for '\(key)' in \(path): it must be a whole number"
            guard value.rounded(.down) != value else {
                return StartupError("\(whole) from \(Int.min) to \(Int.max)")
            }
            return StartupError("\(whole), such as \(Int(value.rounded(.down))) or \(Int(value.rounded(.up)))")
        }
        return nil
    }

    /// Checks the values that would otherwise fail later with a less clear error.
    func validate() throws {
        for (name, port) in [("ssh_port", sshPort), ("http_port", httpPort), ("api_port", apiPort)] where !(0...65535).contains(port) {
            throw StartupError("invalid \(name) \(port); use 1-65535 (0 picks a free port)")
        }
        guard LogLevel(name: logLevel) != nil else {
            let names = LogLevel.allCases.map(\.name).joined(separator: ", ")
            throw StartupError("invalid log_level '\(logLevel)'; use one of \(names)")
        }
        guard ["auto", "kvm", "tcg"].contains(accelerator) else {
            throw StartupError("invalid accelerator '\(accelerator)'; use auto, kvm or tcg")
        }
        guard !domain.isEmpty, domain.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else {
            throw StartupError("invalid domain '\(domain)'; use a DNS name like particle.localhost")
        }
        guard !networkNamespace.isEmpty, networkNamespace.count <= 32,
            networkNamespace.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        else {
            throw StartupError("invalid netns '\(networkNamespace)'; use letters, digits, - and _")
        }
        for (name, value) in [
            ("quota_particles", quotaParticles), ("quota_vcpus", quotaVCPUs), ("quota_snapshots", quotaSnapshots),
        ] where value < 0 {
            throw StartupError("invalid \(name) \(value); use 0 or more")
        }
        guard apiRequestsPerMinute > 0 else {
            throw StartupError("invalid api_requests_per_minute \(apiRequestsPerMinute); use 1 or more")
        }
        guard bootTimeoutSeconds > 0, stopTimeoutSeconds > 0 else {
            throw StartupError("boot_timeout_seconds and stop_timeout_seconds must be positive")
        }
        do { _ = try AddressPool(cidr: subnet) } catch { throw StartupError(error.message) }
        try billing.validate(domain: domain)
        try idle.validate()
        try gateway.validate()
    }
}

/// A problem that stops `particled` from starting, printed as one line.
struct StartupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
