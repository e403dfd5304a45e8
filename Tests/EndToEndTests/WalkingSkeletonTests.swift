import Foundation
import Support
import Testing

/// End-to-end: a real particled, the OpenSSH client, curl, and a real QEMU guest of the
/// debian-12 image, in a temporary state directory and a network namespace of its own.
@Suite(.serialized) struct WalkingSkeletonTests {
    @Test func createExecAndProxy() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        try harness.start()

        let whoami = try harness.ssh("whoami", "--json")
        try #require(whoami.status == 0, "whoami failed: \(whoami.errorOutput)")
        let account = try #require(try jsonObject(whoami.output)["id"] as? String)
        #expect(account.count == 12)

        let createStarted = Date()
        let create = try harness.ssh("create", "web", "--json")
        try #require(create.status == 0, "create failed: \(create.errorOutput)\n\(harness.log.suffix(3000))")
        let particle = try jsonObject(create.output)
        #expect(particle["name"] as? String == "web")
        #expect(particle["size"] as? String == "p1")
        #expect(particle["status"] as? String == "running")
        #expect(particle["http_port"] as? Int == 80)
        #expect(particle["image"] as? String == "debian-12")
        #expect((particle["id"] as? String)?.isEmpty == false)
        #expect((particle["created_at"] as? String)?.hasSuffix("Z") == true)

        let duplicate = try harness.ssh("create", "web")
        #expect(duplicate.status == 4)
        #expect(duplicate.errorOutput.contains("particle 'web' already exists"))

        let serve = try harness.ssh("exec", "web", "--", "systemd-run python3 -m http.server 8000 -d /etc")
        #expect(serve.status == 0, "exec failed: \(serve.errorOutput)")
        let hostname = try waitFor200(harness, host: "web-8000-\(account).particle.localhost", path: "/hostname")
        let firstResponse = Date().timeIntervalSince(createStarted)
        #expect(hostname == "web\n")
        print("create to first 200 through the proxy: \(String(format: "%.1f", firstResponse)) s")

        _ = try harness.ssh("exec", "web", "--", "systemd-run python3 -m http.server 80 -d /etc")
        #expect(try waitFor200(harness, host: "web-\(account).particle.localhost", path: "/hostname") == "web\n")

        let missing = try harness.get(host: "nosuch-\(account).particle.localhost")
        #expect(missing.status == 404)
        #expect(missing.body.contains("No particle answers"))
        let closedPort = try harness.get(host: "web-8001-\(account).particle.localhost")
        #expect(closedPort.status == 502)
        #expect(closedPort.body.contains("port 8001"))

        let failing = try harness.ssh("exec", "web", "--", "echo out; echo err >&2; exit 3")
        #expect(failing.status == 3)
        #expect(failing.output.contains("out"))
        #expect(failing.output.contains("err"))
        let execJSON = try harness.ssh("exec", "web", "--json", "--", "uname -s")
        #expect(try jsonObject(execJSON.output)["exit_code"] as? Int == 0)
        #expect(try jsonObject(execJSON.output)["output"] as? String == "Linux\n")

        let list = try harness.ssh("ls")
        #expect(list.output.contains("web"))
        #expect(list.output.contains("running"))
        let listJSON = try jsonObject(try harness.ssh("ls", "--json").output)
        let entries = try #require(listJSON["particles"] as? [[String: Any]])
        #expect(entries.count == 1)
        #expect(entries.first?["idle_policy"] as? String == "sleep")

        // The bridge neither learns MACs from the guest's port nor trusts its ARP replies.
        let guestAddress = try harness.ssh("exec", "web", "--", "ip -4 -o addr show eth0").output
            .split(separator: " ").first { $0.contains("/") }.map { String($0.split(separator: "/")[0]) } ?? ""
        let neighbors = try Command.run("ip", ["-n", harness.namespace, "neigh", "show", guestAddress]).output
        #expect(neighbors.contains("PERMANENT"), "neighbor entry: \(neighbors)")
        let ports = try Command.run("bridge", ["-n", harness.namespace, "-d", "link", "show"]).output
        #expect(ports.contains("learning off"))
        #expect(ports.contains("isolated on"))

        let status = try jsonObject(try harness.ssh("status", "web", "--json").output)
        let stats = try #require(status["vm_stats"] as? [String: Any])
        #expect(stats["vcpus"] as? Int == 1)
        #expect(stats["vm_state"] as? String == "Running")
        #expect(stats["memory_total_bytes"] as? Int == 2 << 30)
        #expect(stats["disk_total_bytes"] as? Int == 10 << 30)

        try checkOtherAccountCannotSee(harness, account: account)
        try checkStopStartDelete(harness, account: account)
    }

    private func checkOtherAccountCannotSee(_ harness: ParticledHarness, account: String) throws {
        let otherKey = harness.directory.appendingPathComponent("other").path
        try Command.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey])
        let other = try harness.ssh("whoami", "--json", key: otherKey)
        #expect(try jsonObject(other.output)["id"] as? String != account)
        let status = try harness.ssh("status", "web", key: otherKey)
        #expect(status.status == 3)
        #expect(status.errorOutput == "error: particle 'web' not found; run `ls` to see your particles\n")
        let exec = try harness.ssh("exec", "web", "--", "true", key: otherKey)
        #expect(exec.status == 3)
        #expect(try harness.ssh("ls", key: otherKey).output.contains("no particles yet"))
    }

    private func checkStopStartDelete(_ harness: ParticledHarness, account: String) throws {
        let stop = try harness.ssh("stop", "web", "--json")
        #expect(stop.status == 0, "stop failed: \(stop.errorOutput)")
        #expect(try jsonObject(stop.output)["status"] as? String == "stopped")
        #expect(try jsonObject(stop.output)["stopped_at"] is String)
        // Under the default policy `sleep` a request would start it; under `none` it answers 503.
        #expect(try harness.ssh("idle", "web", "none").status == 0)
        #expect(try harness.get(host: "web-8000-\(account).particle.localhost").status == 503)
        #expect(try harness.ssh("stop", "web").status == 4)
        #expect(try harness.ssh("exec", "web", "--", "true").errorOutput.contains("run `start web` first"))

        let start = try harness.ssh("start", "web")
        #expect(start.status == 0, "start failed: \(start.errorOutput)")
        #expect(start.output.contains("running"))
        #expect(try harness.ssh("exec", "web", "--", "cat /etc/hostname").output == "web\n")
        #expect(try harness.ssh("start", "web").errorOutput.contains("already running"))

        let unconfirmed = try harness.ssh("delete", "web", input: "")
        #expect(unconfirmed.status == 2)
        #expect(unconfirmed.errorOutput.contains("delete web --yes"))
        let wrongName = try harness.ssh("delete", "web", input: "webb\n")
        #expect(wrongName.status == 2)
        #expect(try harness.ssh("status", "web").status == 0)

        let delete = try harness.ssh("delete", "web", input: "web\n")
        #expect(delete.status == 0, "delete failed: \(delete.errorOutput)")
        #expect(try harness.ssh("status", "web").status == 3)
        let particles = harness.stateDirectory.appendingPathComponent("particles")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: particles.path)) ?? [] == [])
        let taps = try Command.run("ip", ["-n", harness.namespace, "-o", "link", "show"]).output
        #expect(!taps.contains("pt"))
    }

    @Test func badInputLeavesNothing() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        try harness.start()

        let cases: [([String], Int32, String)] = [
            (["create", "Web_1"], 2, "invalid name 'Web_1'"),
            (["create", String(repeating: "a", count: 64)], 2, "64 characters is too long"),
            (["create"], 2, "missing particle name"),
            (["create", "''"], 2, "missing name"),
            (["create", "web", "--size", "p3"], 2, "invalid size 'p3'; use one of p1, p2, p4, p8, p16"),
            (["create", "web", "--image", "nope"], 2, "unknown image 'nope'"),
            (["create", "web", "--size"], 2, "missing value for --size"),
            (["create", "web", "--color", "red"], 2, "unknown option --color"),
            (["launch", "web"], 2, "unknown command 'launch'"),
            (["status"], 2, "missing particle name"),
            (["exec", "web"], 2, "missing command after --"),
            (["status", "ghost"], 3, "particle 'ghost' not found"),
            (["help", "nope"], 2, "unknown command 'nope'"),
            (["create", "web", "--size", "p1", "--size", "p2"], 2, "--size is given twice"),
            (["create", "\u{1b}[31mred"], 2, #"invalid name '\u{1b}[31mred'"#),
        ]
        for (arguments, expectedStatus, expectedMessage) in cases {
            let result = try harness.ssh(arguments.joined(separator: " "))
            #expect(result.status == expectedStatus, "\(arguments): \(result.errorOutput)")
            #expect(result.errorOutput.hasPrefix("error: "), "\(arguments)")
            #expect(result.errorOutput.contains(expectedMessage), "\(arguments): \(result.errorOutput)")
            #expect(result.errorOutput.split(separator: "\n").count == 1, "\(arguments)")
        }
        let list = try jsonObject(try harness.ssh("ls", "--json").output)
        #expect((list["particles"] as? [Any])?.isEmpty == true)
        let particles = harness.stateDirectory.appendingPathComponent("particles")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: particles.path)) ?? [] == [])

        // OpenSSH reads options after the host too, so `--` passes `--json` on as a word.
        let jsonFirst = try harness.ssh("--", "--json", "ls")
        #expect(jsonFirst.status == 0)
        #expect(try jsonObject(jsonFirst.output)["particles"] is [Any])

        // A second daemon on the same state directory stops at once and names the first.
        let second = try Command.runAllowingFailure(
            ParticledHarness.particledPath,
            ["run", "--state-dir", harness.stateDirectory.path, "--ssh-port", "0", "--http-port", "0", "--api-port", "0"])
        #expect(second.status == 1)
        #expect(second.errorOutput.contains("another particled (pid"))
        let mode = try FileManager.default.attributesOfItem(
            atPath: harness.stateDirectory.appendingPathComponent("particle.db").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let help = try harness.ssh("help")
        #expect(help.status == 0)
        for command in ["create", "ls", "status", "start", "stop", "delete", "exec", "whoami", "help"] {
            #expect(help.output.contains("  \(command)"), "help lists \(command)")
        }
        #expect(try harness.ssh("help", "create").output.contains("create web"))
    }

    @Test func failedBootKeepsSerialLog() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        let config = harness.directory.appendingPathComponent("config.json")
        // A cold boot, not a template resume, is what misses the deadline here.
        try #"{"boot_timeout_seconds": 2, "fast_create": false}"#.write(to: config, atomically: true, encoding: .utf8)
        try harness.start(extraArguments: ["--config", config.path])

        let create = try harness.ssh("create", "slow")
        #expect(create.status != 0)
        #expect(create.errorOutput.contains("failed to boot"))
        #expect(create.errorOutput.contains("logs slow"))
        let status = try jsonObject(try harness.ssh("status", "slow", "--json").output)
        #expect(status["status"] as? String == "error")
        let logs = try harness.ssh("logs", "slow")
        #expect(logs.status == 0)
        #expect(logs.output.contains("QEMU started"))
        let qemu = try Command.runAllowingFailure("pgrep", ["-f", "qemu-system.*\(harness.stateDirectory.path)"])
        #expect(qemu.output.isEmpty, "QEMU still runs after the failed boot")
    }
}

func jsonObject(_ text: String) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw HarnessError("not a JSON object: \(text)")
    }
    return object
}

/// Polls `host` through the proxy until it returns 200, because servers in the guest take a moment to start.
func waitFor200(_ harness: ParticledHarness, host: String, path: String) throws -> String {
    var last = (status: 0, body: "")
    // Generous, because the suites boot guests in parallel on a small machine.
    let deadline = Date().addingTimeInterval(90)
    while Date() < deadline {
        last = try harness.get(host: host, path: path)
        if last.status == 200 { return last.body }
        Thread.sleep(forTimeInterval: 0.2)
    }
    throw HarnessError("\(host)\(path) did not answer 200; last status \(last.status): \(last.body)")
}
