import Foundation
import Testing

@testable import particled

/// Loading particled's configuration file: each bad value is one line that names the key.
@Suite struct ConfigurationTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID())")

    /// Writes `text` as a configuration file and loads it.
    func load(_ text: String) throws -> Configuration {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("particle.json")
        try Data(text.utf8).write(to: file)
        return try Configuration.load(path: file.path)
    }

    /// Loads `text` and returns the startup error it raises.
    func error(_ text: String) -> String {
        do {
            _ = try load(text)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    var path: String { directory.appendingPathComponent("particle.json").path }

    @Test func wholeNumbersLoad() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = try load(#"{"idle_check_interval_ms": 1500, "ssh_port": 2200, "fast_create": false}"#)
        #expect(configuration.idle.checkIntervalMilliseconds == 1500)
        #expect(configuration.sshPort == 2200)
        #expect(configuration.idle.fastCreate == false)
    }

    @Test(arguments: [
        (#"{"idle_check_interval_ms": 1.5}"#, "invalid value 1.5 for 'idle_check_interval_ms'", "1 or 2"),
        (#"{"ssh_port": 2222.25}"#, "invalid value 2222.25 for 'ssh_port'", "2222 or 2223"),
        (#"{"fast_create": true, "quota_vcpus": 0.5}"#, "invalid value 0.5 for 'quota_vcpus'", "0 or 1"),
        (#"{"restart_backoff_ms": -2.5}"#, "invalid value -2.5 for 'restart_backoff_ms'", "-3 or -2"),
    ])
    func fractionNamesKey(text: String, expected: String, choices: String) {
        defer { try? FileManager.default.removeItem(at: directory) }
        let message = error(text)
        #expect(message.hasPrefix("\(expected) in \(path): it must be a whole number"), "\(message)")
        #expect(message.hasSuffix(", such as \(choices)"), "\(message)")
        #expect(!message.contains("\n"))
    }

    @Test func hugeNumberNamesKey() {
        defer { try? FileManager.default.removeItem(at: directory) }
        let message = error(#"{"ssh_port": 1e30}"#)
        #expect(message.hasPrefix("invalid value 1e+30 for 'ssh_port' in \(path): it must be a whole number"), "\(message)")
    }

    @Test func unknownLogLevelRejected() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = try load(#"{"log_level": "verbose"}"#)
        #expect(throws: StartupError.self) { try configuration.validate() }
        do {
            try configuration.validate()
        } catch {
            #expect("\(error)" == "invalid log_level 'verbose'; use one of trace, debug, info, notice, warning, error, critical")
        }
        #expect(throws: Never.self) { try load(#"{"log_level": "debug"}"#).validate() }
    }

    @Test func otherErrorsStay() {
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(error(#"{"ssh_port": "x"}"#).hasPrefix("invalid value for 'ssh_port' in \(path)"))
        #expect(error(#"{"sshport": 1}"#).hasPrefix("unknown key 'sshport' in \(path)"))
        #expect(error("[1]").hasPrefix("config file \(path) is not a JSON object"))
    }
}
