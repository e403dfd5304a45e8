import Foundation
import Support
import Testing

/// A `particled` started for one test, with its own state directory, network namespace, subnet,
/// ports and SSH key. `stop()` removes all of it, also after a failure.
///
/// NOTE: the tests using it are synchronous and block a thread of the cooperative pool while
/// guests boot. On two cores they starve the in-process HTTP server tests when run in
/// parallel, so `./test` runs the suite with `--no-parallel`.
final class ParticledHarness: @unchecked Sendable {
    // Used by one test at a time; the suite is serialized.
    let directory: URL
    let namespace: String
    let subnet: String
    let keyPath: String
    private(set) var process: Process?
    private(set) var sshPort = 0
    private(set) var httpPort = 0
    private(set) var apiPort = 0
    /// The arguments of the last start, with its `--config`, which `restart` passes again.
    private var extraArguments: [String] = []
    let logURL: URL

    init() throws {
        let suffix = String(UUID().uuidString.prefix(6)).lowercased()
        directory = URL(fileURLWithPath: "/tmp/particle-e2e-\(suffix)")
        namespace = "pte2e\(suffix)"
        subnet = "10.231.\(Int.random(in: 1...250)).0/24"
        keyPath = directory.appendingPathComponent("id_ed25519").path
        logURL = directory.appendingPathComponent("particled.log")
        let state = directory.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)

        // Share the image built by ./test instead of building one per test.
        let images = Self.imageCache.appendingPathComponent("images")
        let built = (try? FileManager.default.contentsOfDirectory(atPath: images.path))?.contains { name in
            name.hasPrefix("debian-12-")
                && FileManager.default.fileExists(atPath: images.appendingPathComponent("\(name)/image.json").path)
        }
        guard built == true else {
            throw HarnessError(
                "no debian-12 image in \(images.path); run the tests with ./test, which builds it"
                    + " (or set PARTICLE_TEST_IMAGES to a state directory that has one)")
        }
        try FileManager.default.createSymbolicLink(
            at: state.appendingPathComponent("images"), withDestinationURL: images)
        try Command.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e@test", "-f", keyPath])
    }

    static var imageCache: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["PARTICLE_TEST_IMAGES"] ?? "/var/cache/particle-test")
    }

    static var particledPath: String {
        if let path = ProcessInfo.processInfo.environment["PARTICLED"] { return path }
        return FileManager.default.currentDirectoryPath + "/.build/debug/particled"
    }

    var stateDirectory: URL { directory.appendingPathComponent("state") }

    /// Starts particled and waits until all three listeners are up. `config` becomes its
    /// `--config` file; `environment` is added to particled's.
    ///
    /// The first start picks free ports; later starts (after `restart` or `killParticled`) reuse
    /// them, on the same state directory.
    func start(
        extraArguments: [String] = [], config: [String: Any]? = nil, environment: [String: String] = [:]
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.particledPath)
        var configArguments: [String] = []
        if let config {
            let file = directory.appendingPathComponent("config.json")
            try JSONSerialization.data(withJSONObject: config).write(to: file)
            configArguments = ["--config", file.path]
        }
        process.arguments =
            [
                "run", "--state-dir", stateDirectory.path, "--ssh-port", String(sshPort),
                "--http-port", String(httpPort), "--api-port", String(apiPort),
                "--netns", namespace, "--subnet", subnet,
            ] + configArguments + extraArguments
        self.extraArguments = configArguments + extraArguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if !FileManager.default.fileExists(atPath: logURL.path) {
            _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logURL)
        // Earlier runs' lines stay in the log; only this run's announce its ports.
        let logStart = Int(try log.seekToEnd())
        process.standardError = log
        process.standardOutput = log
        try process.run()
        self.process = process

        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let text = String(decoding: ((try? Data(contentsOf: logURL)) ?? Data()).dropFirst(logStart), as: UTF8.self)
            if let ssh = Self.listeningPort(text, service: "ssh"),
                let http = Self.listeningPort(text, service: "http"),
                let api = Self.listeningPort(text, service: "api")
            {
                sshPort = ssh
                httpPort = http
                apiPort = api
                return
            }
            guard process.isRunning else {
                throw HarnessError("particled exited at start: \(text.suffix(2000))")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw HarnessError("particled did not start listening within 60 s")
    }

    private static func listeningPort(_ log: String, service: String) -> Int? {
        for line in log.split(separator: "\n") where line.contains("msg=listening") && line.contains("service=\(service)") {
            if let range = line.range(of: #"address=[0-9.]+:(\d+)"#, options: .regularExpression) {
                return Int(line[range].split(separator: ":").last!)
            }
        }
        return nil
    }

    /// Runs `ssh -p PORT [USER@]127.0.0.1 ARGS` with the harness's key (or `key`).
    func ssh(
        _ arguments: String..., key: String? = nil, user: String? = nil, input: String? = nil,
        options: [String] = []
    ) throws -> CommandResult {
        try Command.runAllowingFailure(
            "ssh", sshArguments(key: key, user: user, options: options) + arguments,
            input: input.map { Data($0.utf8) })
    }

    /// The `ssh` arguments up to the host: no user configuration, any host key, the harness's
    /// key (or `key`), and `options` before the host.
    func sshArguments(key: String? = nil, user: String? = nil, options: [String] = []) -> [String] {
        [
            "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes",
            "-i", key ?? keyPath, "-p", String(sshPort),
        ] + options + [user.map { "\($0)@127.0.0.1" } ?? "127.0.0.1"]
    }

    /// Fetches `http://HOST:PORT/PATH` through the proxy; returns the status and body.
    func get(host: String, path: String = "/", accept: String? = nil) throws -> (status: Int, body: String) {
        let bodyFile = directory.appendingPathComponent("body-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: bodyFile) }
        // Every host name resolves to loopback, so no request can leave the machine.
        var arguments = [
            "-s", "-o", bodyFile, "-w", "%{http_code}", "--max-time", "60",
            "--resolve", "\(host):\(httpPort):127.0.0.1",
        ]
        if let accept { arguments += ["-H", "Accept: \(accept)"] }
        arguments.append("http://\(host):\(httpPort)\(path)")
        let result = try Command.runAllowingFailure("curl", arguments)
        let body = (try? String(contentsOfFile: bodyFile, encoding: .utf8)) ?? ""
        return (Int(result.output) ?? 0, body)
    }

    /// Sends one request to the REST API port with curl and returns its status, headers and body.
    func api(
        _ method: String, _ path: String, key: String? = nil, json: String? = nil,
        contentType: String = "application/json", host: String? = nil, port: Int? = nil,
        headers: [String] = []
    ) throws -> APIResult {
        let bodyFile = directory.appendingPathComponent("api-body-\(UUID())").path
        let headerFile = directory.appendingPathComponent("api-headers-\(UUID())").path
        defer {
            try? FileManager.default.removeItem(atPath: bodyFile)
            try? FileManager.default.removeItem(atPath: headerFile)
        }
        var arguments = ["-s", "-X", method, "-o", bodyFile, "-D", headerFile, "-w", "%{http_code}", "--max-time", "120"]
        if let key { arguments += ["-H", "Authorization: Bearer \(key)"] }
        if let json {
            let payload = directory.appendingPathComponent("api-payload-\(UUID())")
            try json.write(to: payload, atomically: true, encoding: .utf8)
            arguments += ["-H", "Content-Type: \(contentType)", "--data-binary", "@\(payload.path)"]
        }
        if let host { arguments += ["-H", "Host: \(host)"] }
        for header in headers { arguments += ["-H", header] }
        arguments.append("http://127.0.0.1:\(port ?? apiPort)\(path)")
        let result = try Command.runAllowingFailure("curl", arguments)
        let body = (try? String(contentsOfFile: bodyFile, encoding: .utf8)) ?? ""
        let headers = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        return APIResult(status: Int(result.output) ?? 0, headers: headers, body: body)
    }

    /// Creates an account over the REST API for the key at `keyPath`, signing a fresh challenge.
    func createAccount(keyPath: String, signingKey: String? = nil) throws -> APIResult {
        let challenge = try api("GET", "/v1/accounts/challenge").object()["challenge"] as! String
        let signature = try sign(challenge, keyPath: signingKey ?? keyPath)
        let publicKey = try String(contentsOfFile: keyPath + ".pub", encoding: .utf8)
        return try api("POST", "/v1/accounts", json: jsonText(["public_key": publicKey, "challenge": challenge, "signature": signature]))
    }

    /// Signs `text` as `ssh-keygen -Y sign -n particle` does for a user.
    func sign(_ text: String, keyPath: String) throws -> String {
        let file = directory.appendingPathComponent("challenge-\(UUID())")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(at: file)
            try? FileManager.default.removeItem(atPath: file.path + ".sig")
        }
        try Command.run("ssh-keygen", ["-Y", "sign", "-f", keyPath, "-n", "particle", file.path])
        return try String(contentsOfFile: file.path + ".sig", encoding: .utf8)
    }

    /// The daemon's log so far, for failure messages.
    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Kills particled with SIGKILL, as a crash would, and waits until it is gone. Its guests
    /// keep running.
    func killParticled() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops particled with SIGTERM if it runs, and starts it again with the last start's
    /// arguments and configuration on the same state directory and ports, with `environment` added.
    func restart(environment: [String: String] = [:]) throws {
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try start(extraArguments: extraArguments, environment: environment)
    }

    /// Waits until particled has killed itself at crash point `point` (`PARTICLE_CRASH_AT`),
    /// and throws if it exited any other way.
    func waitForCrash(at point: String, timeout: TimeInterval = 120) throws {
        guard let process else { throw HarnessError("particled was not started") }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard !process.isRunning else {
            throw HarnessError("particled did not reach crash point \(point) within \(Int(timeout)) s:\n\(log.suffix(3000))")
        }
        guard process.terminationReason == .uncaughtSignal, process.terminationStatus == SIGKILL,
            log.contains("crash point \(point) reached")
        else {
            throw HarnessError(
                "particled exited (status \(process.terminationStatus)) without reaching crash point"
                    + " \(point):\n\(log.suffix(3000))")
        }
    }

    /// Stops particled, kills any guest it left, and removes the namespace and files.
    func stop() {
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        let qemu = try? Command.runAllowingFailure("pgrep", ["-f", stateDirectory.path])
        for pid in qemu?.output.split(separator: "\n").compactMap({ Int32($0) }) ?? [] {
            kill(pid, SIGKILL)
        }
        _ = try? Command.runAllowingFailure("ip", ["netns", "delete", namespace])
        try? FileManager.default.removeItem(at: directory)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A REST response as the tests see it.
struct APIResult {
    var status: Int
    var headers: String
    var body: String

    func object() throws -> [String: Any] { try jsonObject(body) }

    /// Returns the value of header `name` (case-insensitive), if present.
    func header(_ name: String) -> String? {
        for line in headers.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// The error code of an error response.
    var errorCode: String? {
        ((try? jsonObject(body))?["error"] as? [String: Any])?["code"] as? String
    }

    var errorMessage: String {
        (((try? jsonObject(body))?["error"] as? [String: Any])?["message"] as? String) ?? ""
    }
}

func jsonText(_ object: [String: Any]) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}
