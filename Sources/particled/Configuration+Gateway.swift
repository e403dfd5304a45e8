import Foundation
import Gateway

/// The SSH gateway's limits in `particled`'s configuration file.
///
/// They sit at the top level of the file beside the other keys; `Configuration` decodes them
/// with its own.
struct GatewayConfiguration: Decodable {
    var keyExchangeTimeoutSeconds = 10
    var authTimeoutSeconds = 30
    var authFailuresPerAddress = 30
    var authFailureWindowSeconds = 600
    var connectionsPerAddress = 64
    var sessionsPerKey = 32
    var commandsPerMinute = 600

    enum CodingKeys: String, CodingKey, CaseIterable {
        case keyExchangeTimeoutSeconds = "ssh_key_exchange_timeout_seconds"
        case authTimeoutSeconds = "ssh_auth_timeout_seconds"
        case authFailuresPerAddress = "ssh_auth_failures_per_address"
        case authFailureWindowSeconds = "ssh_auth_failure_window_seconds"
        case connectionsPerAddress = "ssh_connections_per_address"
        case sessionsPerKey = "ssh_sessions_per_key"
        case commandsPerMinute = "ssh_commands_per_minute"
    }

    init() {}

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = GatewayConfiguration()
        func value(_ key: CodingKeys, _ fallback: Int) throws -> Int {
            try container.decodeIfPresent(Int.self, forKey: key) ?? fallback
        }
        keyExchangeTimeoutSeconds = try value(
            .keyExchangeTimeoutSeconds, defaults.keyExchangeTimeoutSeconds)
        authTimeoutSeconds = try value(.authTimeoutSeconds, defaults.authTimeoutSeconds)
        authFailuresPerAddress = try value(.authFailuresPerAddress, defaults.authFailuresPerAddress)
        authFailureWindowSeconds = try value(
            .authFailureWindowSeconds, defaults.authFailureWindowSeconds)
        connectionsPerAddress = try value(.connectionsPerAddress, defaults.connectionsPerAddress)
        sessionsPerKey = try value(.sessionsPerKey, defaults.sessionsPerKey)
        commandsPerMinute = try value(.commandsPerMinute, defaults.commandsPerMinute)
    }

    /// Rejects values of 0 or less, which would lock everyone out.
    func validate() throws {
        let values: [(CodingKeys, Int)] = [
            (.keyExchangeTimeoutSeconds, keyExchangeTimeoutSeconds),
            (.authTimeoutSeconds, authTimeoutSeconds),
            (.authFailuresPerAddress, authFailuresPerAddress),
            (.authFailureWindowSeconds, authFailureWindowSeconds),
            (.connectionsPerAddress, connectionsPerAddress), (.sessionsPerKey, sessionsPerKey),
            (.commandsPerMinute, commandsPerMinute),
        ]
        for (key, value) in values where value < 1 {
            throw StartupError("invalid \(key.rawValue) \(value); use 1 or more")
        }
    }

    /// Applies the limits to the SSH server's configuration.
    func apply(to server: inout SSHServer.Configuration) {
        server.keyExchangeTimeout = .seconds(keyExchangeTimeoutSeconds)
        server.authTimeout = .seconds(authTimeoutSeconds)
        server.maxAuthFailuresPerAddress = authFailuresPerAddress
        server.authFailureWindow = .seconds(authFailureWindowSeconds)
        server.maxConnectionsPerAddress = connectionsPerAddress
        server.maxSessionsPerKey = sessionsPerKey
    }
}
