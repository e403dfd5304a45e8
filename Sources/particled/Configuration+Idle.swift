import Control
import Foundation

/// The idle-policy and sleep keys of `particled`'s configuration file, at its top level beside
/// the other keys.
struct IdlePolicyConfiguration: Decodable {
    /// The idle timeout that new particles get (users set 30 s to 24 h on each).
    var defaultTimeoutSeconds = IdleSettings.defaultTimeoutSeconds
    var checkIntervalMilliseconds = 1000
    /// How long the proxy holds a request while its particle wakes before answering 504.
    var wakeHoldSeconds = 30
    var restartBackoffMilliseconds = 1000
    var restartBackoffMaximumSeconds = 300
    /// The tmpfs folder for running guests' RAM files.
    var memoryDirectory = "/dev/shm/particle"
    /// Whether particled mounts a tmpfs with huge pages on `memory_dir` (see `MemoryDirectory`).
    var memoryHugePages = false
    /// Whether `create` resumes a saved template guest of the image instead of booting one.
    var fastCreate = true

    enum CodingKeys: String, CodingKey, CaseIterable {
        case defaultTimeoutSeconds = "idle_default_timeout_seconds"
        case checkIntervalMilliseconds = "idle_check_interval_ms"
        case wakeHoldSeconds = "wake_hold_seconds"
        case restartBackoffMilliseconds = "restart_backoff_ms"
        case restartBackoffMaximumSeconds = "restart_backoff_max_seconds"
        case memoryDirectory = "memory_dir"
        case memoryHugePages = "memory_huge_pages"
        case fastCreate = "fast_create"
    }

    init() {}

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = IdlePolicyConfiguration()
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try container.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        defaultTimeoutSeconds = try value(.defaultTimeoutSeconds, defaults.defaultTimeoutSeconds)
        checkIntervalMilliseconds = try value(.checkIntervalMilliseconds, defaults.checkIntervalMilliseconds)
        wakeHoldSeconds = try value(.wakeHoldSeconds, defaults.wakeHoldSeconds)
        restartBackoffMilliseconds = try value(.restartBackoffMilliseconds, defaults.restartBackoffMilliseconds)
        restartBackoffMaximumSeconds = try value(.restartBackoffMaximumSeconds, defaults.restartBackoffMaximumSeconds)
        memoryDirectory = try value(.memoryDirectory, defaults.memoryDirectory)
        memoryHugePages = try value(.memoryHugePages, defaults.memoryHugePages)
        fastCreate = try value(.fastCreate, defaults.fastCreate)
    }

    func validate() throws {
        let positive = [
            ("idle_default_timeout_seconds", defaultTimeoutSeconds), ("idle_check_interval_ms", checkIntervalMilliseconds),
            ("wake_hold_seconds", wakeHoldSeconds), ("restart_backoff_ms", restartBackoffMilliseconds),
            ("restart_backoff_max_seconds", restartBackoffMaximumSeconds),
        ]
        for (name, value) in positive where value <= 0 {
            throw StartupError("invalid \(name) \(value); use 1 or more")
        }
        guard defaultTimeoutSeconds <= IdleSettings.timeoutRange.upperBound else {
            throw StartupError(
                "invalid idle_default_timeout_seconds \(defaultTimeoutSeconds); use at most \(IdleSettings.timeoutRange.upperBound) (24 hours)")
        }
        guard memoryDirectory.hasPrefix("/") else {
            throw StartupError("invalid memory_dir '\(memoryDirectory)'; use an absolute path on a tmpfs such as /dev/shm/particle")
        }
    }

    var settings: IdleConfiguration {
        IdleConfiguration(
            defaultTimeoutSeconds: defaultTimeoutSeconds, checkInterval: .milliseconds(checkIntervalMilliseconds),
            restartBackoffMinimum: .milliseconds(restartBackoffMilliseconds),
            restartBackoffMaximum: .seconds(restartBackoffMaximumSeconds))
    }
}
