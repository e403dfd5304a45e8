import Foundation
import Support
import Testing

/// The REST API over real HTTP against a running particled.
@Suite(.serialized) struct RESTTests {
    @Test func accountsKeysAndErrors() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        try harness.start()

        let version = try harness.api("GET", "/v1/cli/version")
        #expect(version.status == 200)
        #expect(try version.object()["version"] is String)

        // Account creation needs a signature over a fresh challenge by the key itself.
        let created = try harness.createAccount(keyPath: harness.keyPath)
        try #require(created.status == 201, "create account: \(created.body)")
        let accountID = try #require(try created.object()["account_id"] as? String)
        let key = try #require(try created.object()["api_key"] as? String)
        #expect(key.hasPrefix("rp_k1_"))
        #expect(accountID.count == 12)

        let again = try harness.createAccount(keyPath: harness.keyPath)
        #expect(again.status == 409)
        #expect(try again.object()["api_key"] == nil)

        let otherKey = harness.directory.appendingPathComponent("other").path
        try Command.run("ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", otherKey])
        let wrongSigner = try harness.createAccount(keyPath: otherKey, signingKey: harness.keyPath)
        #expect(wrongSigner.status == 401)
        #expect(wrongSigner.errorCode == "unauthorized")
        let unsigned = try harness.api(
            "POST", "/v1/accounts", json: try jsonText(["public_key": try String(contentsOfFile: otherKey + ".pub", encoding: .utf8)]))
        #expect(unsigned.status == 400)
        #expect(unsigned.errorMessage == "missing field 'challenge'")

        let challenge = try harness.api("GET", "/v1/accounts/challenge").object()["challenge"] as! String
        let signature = try harness.sign(challenge, keyPath: otherKey)
        let publicKey = try String(contentsOfFile: otherKey + ".pub", encoding: .utf8)
        let body = try jsonText(["public_key": publicKey, "challenge": challenge, "signature": signature])
        #expect(try harness.api("POST", "/v1/accounts", json: body).status == 201)
        let replay = try harness.api("POST", "/v1/accounts", json: body)
        #expect(replay.status == 401)
        #expect(replay.errorMessage.contains("already used"))

        // Authentication.
        let account = try harness.api("GET", "/v1/account", key: key)
        #expect(account.status == 200)
        #expect(try account.object()["id"] as? String == accountID)
        #expect(try account.object()["balance_cents"] as? Int == 0)
        for badKey in [nil, "nope", "rp_k1_" + String(repeating: "0", count: 40)] {
            let denied = try harness.api("GET", "/v1/account", key: badKey)
            #expect(denied.status == 401, "key \(badKey ?? "none")")
            #expect(denied.errorCode == "unauthorized")
        }
        let viaHost = try harness.api("GET", "/v1/account", key: key, host: "api.particle.localhost", port: harness.httpPort)
        #expect(viaHost.status == 200)

        let rotated = try harness.api("POST", "/v1/account/rotate-key", key: key)
        #expect(rotated.status == 200)
        let newKey = try #require(try rotated.object()["api_key"] as? String)
        #expect(try harness.api("GET", "/v1/account", key: key).status == 401)
        #expect(try harness.api("GET", "/v1/account", key: newKey).status == 200)

        try checkKeys(harness, key: newKey)
        try checkConcurrentKeepAlive(harness, key: newKey)
        try checkRequestErrors(harness, key: newKey)

        // An account made over SSH gets its API key with `api-key`.
        let sshKey = harness.directory.appendingPathComponent("ssh-user").path
        try Command.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", sshKey])
        let issued = try harness.ssh("api-key", key: sshKey)
        #expect(issued.status == 0)
        let sshAPIKey = issued.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try harness.api("GET", "/v1/account", key: sshAPIKey).status == 200)
    }

    private func checkKeys(_ harness: ParticledHarness, key: String) throws {
        let listed = try harness.api("GET", "/v1/keys", key: key)
        #expect(listed.status == 200)
        #expect((try listed.object()["keys"] as? [[String: Any]])?.count == 1)
        let laptop = harness.directory.appendingPathComponent("laptop").path
        try Command.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "me@laptop", "-f", laptop])
        let laptopKey = try String(contentsOfFile: laptop + ".pub", encoding: .utf8)

        // Adding a key needs the same proof as creating an account: a signature by that key.
        func proof(signedBy signer: String) throws -> [String: String] {
            let challenge = try harness.api("GET", "/v1/accounts/challenge").object()["challenge"] as! String
            return ["public_key": laptopKey, "challenge": challenge, "signature": try harness.sign(challenge, keyPath: signer)]
        }
        let unproven = try harness.api("POST", "/v1/keys", key: key, json: try jsonText(["public_key": laptopKey]))
        #expect(unproven.status == 400)
        #expect(unproven.errorMessage == "missing field 'challenge'")
        let wrongSigner = try harness.api("POST", "/v1/keys", key: key, json: try jsonText(try proof(signedBy: harness.keyPath)))
        #expect(wrongSigner.status == 401)
        let added = try harness.api("POST", "/v1/keys", key: key, json: try jsonText(try proof(signedBy: laptop)))
        #expect(added.status == 201, "add key: \(added.body)")
        let keyID = try #require(try added.object()["id"] as? String)
        #expect(try added.object()["name"] as? String == "me@laptop")
        let duplicate = try harness.api("POST", "/v1/keys", key: key, json: try jsonText(try proof(signedBy: laptop)))
        #expect(duplicate.status == 409)
        let invalid = try harness.api(
            "POST", "/v1/keys", key: key,
            json: #"{"public_key": "ssh-ed25519 nope", "challenge": "x", "signature": "y"}"#)
        #expect(invalid.status == 422)

        // Over SSH: the key, the challenge and the signature on standard input.
        let phone = harness.directory.appendingPathComponent("phone").path
        try Command.run("ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", phone])
        let challenge = try harness.ssh("keys", "challenge").output
        let signature = try harness.sign(challenge, keyPath: phone)
        let sshAdd = try harness.ssh(
            "keys", "add", "phone", input: try String(contentsOfFile: phone + ".pub", encoding: .utf8) + challenge + signature)
        #expect(sshAdd.status == 0, "keys add: \(sshAdd.errorOutput)")
        #expect(sshAdd.output.contains("added key 'phone'"))
        let unsigned = try harness.ssh("keys", "add", "x", input: try String(contentsOfFile: phone + ".pub", encoding: .utf8))
        #expect(unsigned.status == 2)
        #expect(unsigned.errorOutput.contains("missing challenge"))
        let phoneID = try #require(
            (try harness.api("GET", "/v1/keys", key: key).object()["keys"] as? [[String: Any]])?
                .first { $0["name"] as? String == "phone" }?["id"] as? String)
        #expect(try harness.api("DELETE", "/v1/keys/\(phoneID)", key: key).status == 204)
        let deleted = try harness.api("DELETE", "/v1/keys/\(keyID)", key: key)
        #expect(deleted.status == 204)
        #expect(deleted.body.isEmpty)
        #expect(try harness.api("DELETE", "/v1/keys/\(keyID)", key: key).status == 404)
        let only = try #require((try harness.api("GET", "/v1/keys", key: key).object()["keys"] as? [[String: Any]])?.first)
        let last = try harness.api("DELETE", "/v1/keys/\(only["id"] as! String)", key: key)
        #expect(last.status == 409)
    }

    /// Many clients at once, each sending several requests on one keep-alive connection.
    private func checkConcurrentKeepAlive(_ harness: ParticledHarness, key: String) throws {
        let url = "http://127.0.0.1:\(harness.apiPort)/v1/account"
        let results = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            // curl reuses one connection for the repeated URL and prints each status code.
            let run = try? Command.runAllowingFailure(
                "curl",
                ["-s", "-w", "%{http_code} %{num_connects}\n", "-H", "Authorization: Bearer \(key)"]
                    + Array(repeating: ["-o", "/dev/null", url], count: 4).flatMap { $0 })
            results.withLock { $0.append(run?.output ?? "") }
        }
        for output in results.value {
            let lines = output.split(separator: "\n")
            #expect(lines.count == 4, "\(output)")
            #expect(lines.allSatisfy { $0.hasPrefix("200 ") }, "\(output)")
            #expect(lines.dropFirst().allSatisfy { $0.hasSuffix(" 0") }, "later requests reuse the connection: \(output)")
        }
    }

    private func checkRequestErrors(_ harness: ParticledHarness, key: String) throws {
        let twice = try Command.runAllowingFailure(
            "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(key)",
                     "-H", "Authorization: Bearer other", "http://127.0.0.1:\(harness.apiPort)/v1/account"])
        #expect(twice.output == "400")

        let notAllowed = try harness.api("DELETE", "/v1/account", key: key)
        #expect(notAllowed.status == 405)
        #expect(notAllowed.header("Allow") == "GET")
        #expect(notAllowed.errorCode == "method_not_allowed")

        let plain = try harness.api("POST", "/v1/particles", key: key, json: "name=web", contentType: "text/plain")
        #expect(plain.status == 415)
        let huge = try harness.api("POST", "/v1/particles", key: key, json: String(repeating: " ", count: (1 << 20) + 1))
        #expect(huge.status == 413)
        // A chunked body over the limit is stopped by the HTTP server, in the same JSON shape.
        let payload = harness.directory.appendingPathComponent("chunked-payload")
        try String(repeating: " ", count: (1 << 20) + 10).write(to: payload, atomically: true, encoding: .utf8)
        let chunked = try Command.runAllowingFailure(
            "curl", ["-s", "-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json",
                     "-H", "Transfer-Encoding: chunked", "--data-binary", "@\(payload.path)",
                     "http://127.0.0.1:\(harness.apiPort)/v1/particles"])
        #expect(APIResult(status: 413, headers: "", body: chunked.output).errorCode == "payload_too_large", "\(chunked.output)")
        let broken = try harness.api("POST", "/v1/particles", key: key, json: "{\"name\": ")
        #expect(broken.status == 400)
        #expect(broken.errorMessage.hasPrefix("invalid JSON"))
        let wrongType = try harness.api("POST", "/v1/particles", key: key, json: #"{"name": 5}"#)
        #expect(wrongType.status == 400)
        #expect(wrongType.errorMessage == "invalid field 'name': expected a string")
        let badSize = try harness.api("POST", "/v1/particles", key: key, json: #"{"name": "web", "size": "p5"}"#)
        #expect(badSize.status == 422)
        #expect(badSize.errorMessage.contains("invalid size 'p5'"))
        let badName = try harness.api("POST", "/v1/particles", key: key, json: #"{"name": "Web_1"}"#)
        #expect(badName.status == 422)
        let badImage = try harness.api("POST", "/v1/particles", key: key, json: #"{"name": "web", "image": "nope"}"#)
        #expect(badImage.status == 422)
        let missing = try harness.api("GET", "/v1/particles/ghost", key: key)
        #expect(missing.status == 404)
        #expect(missing.errorCode == "not_found")
        #expect(try harness.api("GET", "/v1/nothing", key: key).status == 404)
        let badOffset = try harness.api("GET", "/v1/particles/ghost/logs?offset=-1", key: key)
        #expect(badOffset.status == 400)
        #expect((try harness.api("GET", "/v1/particles", key: key).object()["particles"] as? [Any])?.isEmpty == true)

        let images = try harness.api("GET", "/v1/images", key: key)
        let first = try #require((try images.object()["images"] as? [[String: Any]])?.first)
        #expect(first["id"] as? String == "debian-12")
        #expect(first["default"] as? Bool == true)
    }

    /// Rename, port, idle policy and custom domain on the running particle `api1`.
    private func checkSettings(_ harness: ParticledHarness, key: String) throws {
        let account = try harness.api("GET", "/v1/account", key: key).object()["id"] as! String
        let serve = #"{"command": "systemd-run python3 -m http.server 8000 -d /etc"}"#
        #expect(try harness.api("POST", "/v1/particles/api1/exec", key: key, json: serve).status == 200)

        let port = try harness.api("PUT", "/v1/particles/api1/port", key: key, json: #"{"http_port": 8000}"#)
        #expect(port.status == 200)
        #expect(try port.object()["http_port"] as? Int == 8000)
        #expect(try waitFor200(harness, host: "api1-\(account).particle.localhost", path: "/hostname") == "api1\n")
        for bad in ["0", "65536", "-1"] {
            let result = try harness.api("PUT", "/v1/particles/api1/port", key: key, json: "{\"http_port\": \(bad)}")
            #expect(result.status == 422, "port \(bad)")
        }
        #expect(try harness.api("PUT", "/v1/particles/api1/port", key: key, json: #"{"http_port": "80"}"#).status == 400)

        let renamed = try harness.api("POST", "/v1/particles/api1/rename", key: key, json: #"{"name": "api2"}"#)
        #expect(renamed.status == 200)
        #expect(try renamed.object()["name"] as? String == "api2")
        #expect(try harness.get(host: "api2-\(account).particle.localhost", path: "/hostname").status == 200)
        #expect(try harness.get(host: "api1-\(account).particle.localhost", path: "/hostname").status == 404)
        #expect(try harness.api("POST", "/v1/particles/api2/rename", key: key, json: #"{"name": "Bad_Name"}"#).status == 422)

        let domain = try harness.api("PUT", "/v1/particles/api2/domain", key: key, json: #"{"domain": "app.example.test"}"#)
        #expect(domain.status == 200)
        #expect(try domain.object()["custom_domain"] as? String == "app.example.test")
        #expect(try harness.get(host: "app.example.test", path: "/hostname").status == 200)
        let platformDomain = try harness.api(
            "PUT", "/v1/particles/api2/domain", key: key, json: #"{"domain": "x.particle.localhost"}"#)
        #expect(platformDomain.status == 422)
        let removed = try harness.api("DELETE", "/v1/particles/api2/domain", key: key)
        #expect(removed.status == 200)
        #expect(try removed.object()["custom_domain"] == nil)
        #expect(try harness.get(host: "app.example.test", path: "/hostname").status == 404)

        let idle = try harness.api(
            "PUT", "/v1/particles/api2/idle", key: key, json: #"{"policy": "sleep", "timeout_seconds": 30}"#)
        #expect(idle.status == 200)
        #expect(try idle.object()["idle_timeout_seconds"] as? Int == 30)
        let scheduled = try harness.api(
            "PUT", "/v1/particles/api2/idle", key: key,
            json: #"{"policy": "schedule", "schedule": "mon-fri 08:00-19:00 Europe/Berlin"}"#)
        #expect(try scheduled.object()["idle_policy"] as? String == "schedule")
        for bad in [
            #"{"policy": "nap"}"#, #"{"policy": "sleep", "timeout_seconds": 5}"#, #"{"policy": "schedule"}"#,
            #"{"policy": "schedule", "schedule": "mon-fri 25:00-19:00"}"#,
        ] {
            #expect(try harness.api("PUT", "/v1/particles/api2/idle", key: key, json: bad).status == 422, "\(bad)")
        }
        #expect(try harness.api("PUT", "/v1/particles/api2/idle", key: key, json: #"{"policy": "on"}"#).status == 200)
        #expect(try harness.api("POST", "/v1/particles/api2/rename", key: key, json: #"{"name": "api1"}"#).status == 200)
        #expect(try harness.api("PUT", "/v1/particles/api1/port", key: key, json: #"{"http_port": 80}"#).status == 200)
    }

    @Test func limitsAndQuotas() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        let config = harness.directory.appendingPathComponent("config.json")
        try #"{"api_requests_per_minute": 4, "quota_particles": 0}"#.write(to: config, atomically: true, encoding: .utf8)
        try harness.start(extraArguments: ["--config", config.path])
        let key = try #require(try harness.createAccount(keyPath: harness.keyPath).object()["api_key"] as? String)

        let quota = try harness.api("POST", "/v1/particles", key: key, json: #"{"name": "web"}"#)
        #expect(quota.status == 403)
        #expect(quota.errorMessage.contains("particle quota reached"))
        var statuses: [Int] = []
        var limited: APIResult?
        for _ in 0..<6 {
            let result = try harness.api("GET", "/v1/account", key: key)
            statuses.append(result.status)
            if result.status == 429 { limited = result }
        }
        #expect(statuses.prefix(3) == [200, 200, 200], "\(statuses)")
        let refused = try #require(limited, "no 429 in \(statuses)")
        #expect(Int(refused.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(refused.errorCode == "rate_limited")

        // Guessed keys count against the source address (which account creation used twice).
        let guesses = try (0..<6).map { index in
            try harness.api("GET", "/v1/account", key: "rp_k1_" + String(repeating: "\(index)", count: 40)).status
        }
        #expect(guesses.contains(429), "\(guesses)")
    }

    @Test func creationNeedsBalance() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        let config = harness.directory.appendingPathComponent("config.json")
        try #"{"require_balance": true}"#.write(to: config, atomically: true, encoding: .utf8)
        try harness.start(extraArguments: ["--config", config.path])
        let key = try #require(try harness.createAccount(keyPath: harness.keyPath).object()["api_key"] as? String)

        let refused = try harness.api("POST", "/v1/particles", key: key, json: #"{"name": "web"}"#)
        #expect(refused.status == 402)
        #expect(refused.errorCode == "payment_required")
        #expect(refused.errorMessage.contains("balance"))
        #expect((try harness.api("GET", "/v1/particles", key: key).object()["particles"] as? [Any])?.isEmpty == true)
    }

    @Test func particleLifecycleAndIsolation() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        try harness.start()
        let key = try #require(try harness.createAccount(keyPath: harness.keyPath).object()["api_key"] as? String)
        let otherPath = harness.directory.appendingPathComponent("other").path
        try Command.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherPath])
        let other = try #require(try harness.createAccount(keyPath: otherPath).object()["api_key"] as? String)

        let created = try harness.api("POST", "/v1/particles", key: key, json: #"{"name": "api1", "size": "p1"}"#)
        try #require(created.status == 201, "create: \(created.body)\n\(harness.log.suffix(2000))")
        let particle = try created.object()
        #expect(Set(particle.keys) == ["id", "name", "size", "status", "http_port", "image", "created_at"])
        #expect(particle["status"] as? String == "running")

        let detail = try harness.api("GET", "/v1/particles/api1", key: key).object()
        #expect(detail["idle_policy"] as? String == "sleep")
        #expect(detail["image"] as? String == "debian-12")
        let exec = try harness.api("POST", "/v1/particles/api1/exec", key: key, json: #"{"command": "hostname; exit 4"}"#)
        #expect(exec.status == 200)
        #expect(try exec.object()["output"] as? String == "api1\n")
        #expect(try exec.object()["exit_code"] as? Int == 4)
        let status = try harness.api("GET", "/v1/particles/api1/status", key: key).object()
        #expect((status["vm_stats"] as? [String: Any])?["vm_state"] as? String == "Running")
        #expect(status["healthy"] as? Bool == true)

        let logs = try harness.api("GET", "/v1/particles/api1/logs", key: key).object()
        let offset = try #require(logs["offset"] as? Int)
        #expect(offset > 0)
        // A cold boot prints the guest's ready marker; a particle made from a template says so.
        let text = logs["logs"] as? String ?? ""
        #expect(text.contains("particle: ready") || text.contains("particle: made from the image's template"), "\(text)")
        let tail = try harness.api("GET", "/v1/particles/api1/logs?offset=\(offset)", key: key).object()
        #expect((tail["offset"] as? Int ?? 0) >= offset)
        #expect((tail["logs"] as? String)?.contains("particle: ready") == false)

        // Account B gets 404 for A's particle, snapshot and key, and nothing of A changes.
        let snapshot = try harness.api("POST", "/v1/particles/api1/snapshots", key: key, json: #"{"name": "mine"}"#)
        #expect(snapshot.status == 201)
        let probes: [(String, String, String?)] = [
            ("GET", "/v1/particles/api1/snapshots", nil),
            ("POST", "/v1/particles/api1/snapshots", #"{"name": "theirs"}"#),
            ("POST", "/v1/particles/api1/snapshots/mine/restore", nil),
            ("DELETE", "/v1/particles/api1/snapshots/mine", nil),
            ("POST", "/v1/particles/api1/duplicate", #"{"name": "stolen"}"#),
            ("POST", "/v1/particles/api1/rebuild", nil),
            ("PUT", "/v1/particles/api1/resize", #"{"size": "p2"}"#),
            ("GET", "/v1/particles/api1", nil), ("DELETE", "/v1/particles/api1", nil),
            ("POST", "/v1/particles/api1/start", nil), ("POST", "/v1/particles/api1/stop", nil),
            ("GET", "/v1/particles/api1/status", nil), ("GET", "/v1/particles/api1/logs", nil),
            ("POST", "/v1/particles/api1/exec", #"{"command": "true"}"#),
            ("POST", "/v1/particles/api1/rename", #"{"name": "stolen"}"#),
            ("PUT", "/v1/particles/api1/port", #"{"http_port": 22}"#),
            ("PUT", "/v1/particles/api1/idle", #"{"policy": "on"}"#),
            ("PUT", "/v1/particles/api1/domain", #"{"domain": "stolen.example.test"}"#),
            ("DELETE", "/v1/particles/api1/domain", nil),
        ]
        for (method, path, json) in probes {
            let result = try harness.api(method, path, key: other, json: json)
            #expect(result.status == 404, "\(method) \(path) as another account: \(result.status)")
        }
        let keys = try harness.api("GET", "/v1/keys", key: key).object()["keys"] as! [[String: Any]]
        #expect(try harness.api("DELETE", "/v1/keys/\(keys[0]["id"] as! String)", key: other).status == 404)
        #expect((try harness.api("GET", "/v1/particles", key: other).object()["particles"] as? [Any])?.isEmpty == true)
        let unchanged = try harness.api("GET", "/v1/particles/api1", key: key).object()
        #expect(unchanged["status"] as? String == "running")
        #expect(unchanged["http_port"] as? Int == 80)
        #expect(unchanged["idle_policy"] as? String == "sleep")
        #expect(unchanged["custom_domain"] == nil)
        #expect(unchanged["size"] as? String == "p1")
        let snapshots = try harness.api("GET", "/v1/particles/api1/snapshots", key: key).object()["snapshots"] as? [[String: Any]]
        #expect(snapshots?.map { $0["name"] as? String } == ["mine"])
        #expect((try harness.api("GET", "/v1/keys", key: key).object()["keys"] as? [Any])?.count == 1)
        #expect(try harness.api("DELETE", "/v1/particles/api1/snapshots/mine", key: key).status == 204)

        try checkSettings(harness, key: key)

        let stopped = try harness.api("POST", "/v1/particles/api1/stop", key: key)
        #expect(stopped.status == 200)
        #expect(try stopped.object()["status"] as? String == "stopped")
        #expect(try stopped.object()["stopped_at"] is String)
        let conflict = try harness.api("POST", "/v1/particles/api1/stop", key: key)
        #expect(conflict.status == 409)
        #expect(try harness.api("POST", "/v1/particles/api1/start", key: key).object()["status"] as? String == "running")
        let deleted = try harness.api("DELETE", "/v1/particles/api1", key: key)
        #expect(deleted.status == 204)
        #expect(deleted.body.isEmpty)
        #expect(try harness.api("GET", "/v1/particles/api1", key: key).status == 404)
    }
}
