import Foundation
import Support
import Testing

/// The idle policies against real guests, with timeouts shortened through configuration.
@Suite(.serialized) struct IdleTests {
    nonisolated(unsafe) static let config: [String: Any] = [
        "idle_default_timeout_seconds": 4, "idle_check_interval_ms": 200, "restart_backoff_ms": 500,
        "log_level": "debug",
    ]

    /// A tiny server for port 8001 of the guest: answers any request with 101 Switching
    /// Protocols and then echoes, like a WebSocket server after its handshake.
    static let upgradeServer = """
        import socket, threading
        def serve(c):
            data = b''
            while b'\\r\\n\\r\\n' not in data:
                data += c.recv(1024)
            c.sendall(b'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n')
            for chunk in iter(lambda: c.recv(1024), b''):
                c.sendall(chunk)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('', 8001))
        s.listen()
        while True:
            threading.Thread(target=serve, args=(s.accept()[0],)).start()
        """

    @Test func sleepsWhenIdleAndWakesOnUse() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        try harness.start(config: Self.config)
        let particle = try jsonObject(try harness.ssh("create", "web", "--json").output)
        let id = try #require(particle["id"] as? String)
        let account = try #require(try jsonObject(try harness.ssh("whoami", "--json").output)["id"] as? String)
        let setUp = try harness.ssh(
            "exec", "web", "--",
            "systemd-run python3 -m http.server 8000 -d /etc && cat > /root/upgrade.py <<'EOF'\n\(Self.upgradeServer)\nEOF\n"
                + "systemd-run python3 /root/upgrade.py")
        #expect(setUp.status == 0, "\(setUp.output)")

        // No traffic: asleep after the 4 s timeout, with no QEMU left and its memory on disk.
        try waitForStatus(harness, "web", "sleeping", within: 30)
        #expect(qemuPIDs(harness, id).isEmpty)
        let files = harness.stateDirectory.appendingPathComponent("particles/\(id)")
        #expect(FileManager.default.fileExists(atPath: files.appendingPathComponent("memory.state").path))
        #expect(harness.log.contains("reason=idle"))

        // A request wakes it and succeeds; its processes and clock are right after 6 s asleep.
        Thread.sleep(forTimeInterval: 6)
        let host = "web-8000-\(account).particle.localhost"
        let woken = try harness.get(host: host, path: "/hostname")
        #expect(woken.status == 200 && woken.body == "web\n", "\(woken)")
        #expect(harness.log.contains("msg=\"particle awake\"") && harness.log.contains("reason=http"))
        let clock = try harness.ssh("exec", "web", "--", "date +%s")
        let guestTime = Double(clock.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(abs(guestTime - Date().timeIntervalSince1970) < 3, "guest clock \(clock.output)")

        // An open SSH channel (a jump to its sshd) keeps it awake past three timeouts.
        try waitForStatus(harness, "web", "sleeping", within: 30)
        let jump = try harness.backgroundJump(to: "web:22")
        try waitForStatus(harness, "web", "running", within: 30)
        Thread.sleep(forTimeInterval: 12)
        #expect(try status(harness, "web") == "running")
        let report = try jsonObject(try harness.ssh("why-awake", "web", "--json").output)
        let activities = report["activities"] as? [[String: Any]] ?? []
        #expect(activities.contains { $0["kind"] as? String == "ssh" }, "\(report)")
        #expect(report["sleeps_at"] is NSNull)
        harness.stopBackground(jump)
        try waitForStatus(harness, "web", "sleeping", within: 30)

        // Ten concurrent requests to the sleeping particle: one wake, ten answers.
        let wakesBefore = harness.log.components(separatedBy: "msg=\"guest awake\"").count
        let statuses = Locked<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 10) { _ in
            let answer = (try? harness.get(host: host, path: "/hostname"))?.status ?? 0
            statuses.withLock { $0.append(answer) }
        }
        #expect(statuses.withLock { $0 } == Array(repeating: 200, count: 10))
        #expect(harness.log.components(separatedBy: "msg=\"guest awake\"").count == wakesBefore + 1)

        // An open upgraded connection (WebSocket) through the proxy keeps it awake too.
        let upgrade = try harness.upgradedConnection(host: "web-8001-\(account).particle.localhost")
        Thread.sleep(forTimeInterval: 12)
        #expect(try status(harness, "web") == "running")
        let open = try jsonObject(try harness.ssh("why-awake", "web", "--json").output)
        let httpActivities = (open["activities"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "http" }
        #expect(httpActivities.contains { ($0["detail"] as? String)?.contains("upgrade: websocket") == true }, "\(open)")
        harness.stopBackground(upgrade)
        try waitForStatus(harness, "web", "sleeping", within: 30)

        // `sleep` and `start` by hand; a second sleep is a clear conflict.
        #expect(try harness.ssh("start", "web").status == 0)
        #expect(try harness.ssh("sleep", "web").status == 0)
        let again = try harness.ssh("sleep", "web")
        #expect(again.status != 0 && again.errorOutput.contains("already sleeping"), "\(again.errorOutput)")

        // Two particles resumed from the image's one saved template have their own random state
        // and clock: the agent reseeded each guest's generator with fresh host entropy.
        try waitUntil(within: 180, "the image's template") {
            let images = ParticledHarness.imageCache.appendingPathComponent("images").path
            let names = (try? FileManager.default.subpathsOfDirectory(atPath: images)) ?? []
            return names.contains { $0.hasSuffix("templates/1x2048M/template.json") }
        }
        var randomness: [String] = []
        for name in ["twin1", "twin2"] {
            #expect(try harness.ssh("create", name).status == 0)
            let bytes = try harness.ssh("exec", name, "--", "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo; date +%s")
            let lines = bytes.output.split(separator: "\n").map(String.init)
            randomness.append(lines.first ?? "")
            #expect(abs((Double(lines.last ?? "") ?? 0) - Date().timeIntervalSince1970) < 3, "\(name): \(bytes.output)")
        }
        #expect(harness.log.components(separatedBy: "guest made from its template").count >= 3)
        #expect(randomness[0].count == 64 && randomness[0] != randomness[1], "\(randomness)")

        // A duplicate with memory of a sleeping particle resumes its processes under its own
        // name, address and host key, and the source wakes as itself.
        #expect(try harness.ssh("exec", "twin1", "--", "systemd-run --unit marker sleep 86400").status == 0)
        #expect(try harness.ssh("sleep", "twin1").status == 0)
        let copy = try harness.ssh("duplicate", "twin1", "copy", "--with-memory", "--json")
        #expect(copy.status == 0, "\(copy.errorOutput)")
        #expect((try? jsonObject(copy.output))?["status"] as? String == "sleeping", "\(copy.output)")
        let inCopy = try harness.ssh("exec", "copy", "--", "hostname; systemctl is-active marker; ip -4 -o addr show eth0")
        #expect(inCopy.output.hasPrefix("copy\nactive\n"), "\(inCopy.output) \(inCopy.errorOutput)")
        let inSource = try harness.ssh("exec", "twin1", "--", "hostname; systemctl is-active marker; ip -4 -o addr show eth0")
        #expect(inSource.output.hasPrefix("twin1\nactive\n"), "\(inSource.output)")
        #expect(inCopy.output.split(separator: "\n").last != inSource.output.split(separator: "\n").last)
        #expect(try harness.ssh("stop", "twin2").status == 0)
        let refused = try harness.ssh("duplicate", "twin2", "other", "--with-memory")
        #expect(refused.status != 0 && refused.errorOutput.contains("only a sleeping particle has memory"), "\(refused.errorOutput)")
    }

    @Test func policiesOnNoneScheduleAndGuestTimers() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        let clockFile = harness.directory.appendingPathComponent("clock-offset")
        try "0".write(to: clockFile, atomically: true, encoding: .utf8)
        var config = Self.config
        config["wake_hold_seconds"] = 1
        try harness.start(config: config, environment: ["PARTICLE_CLOCK_OFFSET_FILE": clockFile.path])
        let particle = try jsonObject(try harness.ssh("create", "web", "--json").output)
        let id = try #require(particle["id"] as? String)
        let account = try #require(try jsonObject(try harness.ssh("whoami", "--json").output)["id"] as? String)

        // `on`: a guest powered off from inside is started again, and it never sleeps.
        #expect(try harness.ssh("idle", "web", "on").status == 0)
        let first = try #require(qemuPIDs(harness, id).first)
        _ = try harness.ssh("exec", "web", "--", "systemctl poweroff")
        try waitUntil(within: 90, "the guest to be restarted") {
            let pids = qemuPIDs(harness, id)
            return !pids.isEmpty && !pids.contains(first) && (try? status(harness, "web")) == "running"
        }
        #expect(harness.log.contains("guest of an always-on particle died"))

        // A systemd timer due while it sleeps wakes it; it goes back to sleep afterwards.
        #expect(try harness.ssh("idle", "web", "sleep").status == 0)
        let timer = try harness.ssh(
            "exec", "web", "--",
            "systemd-run --timer-property=AccuracySec=1s"
                + " --on-calendar=\"$(date -u -d @$(( $(date +%s) + 20 )) '+%Y-%m-%d %H:%M:%S') UTC\""
                + " touch /root/timer-fired")
        #expect(timer.status == 0, "\(timer.output)")
        try waitForStatus(harness, "web", "sleeping", within: 30)
        #expect(harness.log.contains("wake_at="))
        // `status` shows when the timer wakes it, and claims no health for a guest that does not run.
        let asleep = try jsonObject(try harness.ssh("status", "web", "--json").output)
        #expect(asleep["healthy"] as? Bool == false, "\(asleep)")
        #expect((asleep["wake_at"] as? String)?.hasSuffix("Z") == true, "\(asleep)")
        let statusText = try harness.ssh("status", "web").output
        let wakeLine = statusText.split(separator: "\n").first { $0.hasPrefix("wake_at ") }
        #expect(wakeLine?.hasSuffix("Z") == true, "\(statusText)")
        try waitUntil(within: 60, "the guest timer to wake the particle") {
            harness.log.contains("reason=\"guest systemd timer run-")
        }
        try waitUntil(within: 30, "the timer's command to run") {
            (try? harness.ssh("exec", "web", "--", "test -f /root/timer-fired"))?.status == 0
        }
        try waitForStatus(harness, "web", "sleeping", within: 30)

        try checkCronJobWakes(harness)

        // `none`: a guest powered off from inside stays off.
        #expect(try harness.ssh("idle", "web", "none").status == 0)
        #expect(try harness.ssh("start", "web").status == 0)
        _ = try harness.ssh("exec", "web", "--", "systemctl poweroff")
        try waitForStatus(harness, "web", "stopped", within: 60)
        Thread.sleep(forTimeInterval: 3)
        #expect(try status(harness, "web") == "stopped")
        #expect(qemuPIDs(harness, id).isEmpty)

        // A QEMU killed by SIGBUS, as a RAM file on a full memory_dir makes it, while an `exec`
        // runs: the death is logged with its signal, and the exec ends with its activity.
        #expect(try harness.ssh("start", "web").status == 0)
        let execStatus = harness.directory.appendingPathComponent("exec-status").path
        let execOutput = harness.directory.appendingPathComponent("exec-output").path
        let execLine = (["ssh"] + harness.sshArguments() + ["exec", "web", "--", "sleep", "600"]).joined(separator: " ")
        let execGroup = try harness.startBackground("\(execLine) > \(execOutput) 2>&1; echo $? > \(execStatus)")
        defer { harness.stopBackground(execGroup) }
        do {
            try waitUntil(within: 30, "the exec to be an activity") {
                let report = try? jsonObject(try harness.ssh("why-awake", "web", "--json").output)
                return (report?["activities"] as? [[String: Any]])?.contains { $0["kind"] as? String == "exec" } == true
            }
        } catch {
            let output = (try? String(contentsOfFile: execOutput, encoding: .utf8)) ?? ""
            throw HarnessError("\(error); the exec printed: \(output)")
        }
        let crashed = try #require(qemuPIDs(harness, id).first)
        kill(crashed, SIGBUS)
        try waitForStatus(harness, "web", "stopped", within: 30)
        #expect(harness.log.contains("msg=\"guest's QEMU ended unexpectedly\""))
        #expect(harness.log.contains("exit=\"killed by signal 7 (SIGBUS)\""))
        try waitUntil(within: 15, "the exec to end") { FileManager.default.fileExists(atPath: execStatus) }
        let execExit = try String(contentsOfFile: execStatus, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(execExit != "0", "the exec of a dead guest failed")
        let afterDeath = try jsonObject(try harness.ssh("why-awake", "web", "--json").output)
        #expect((afterDeath["activities"] as? [Any])?.isEmpty == true, "\(afterDeath)")
        #expect(try harness.ssh("logs", "web").output.contains("particle: QEMU ended (killed by signal 7 (SIGBUS))"))
        Thread.sleep(forTimeInterval: 2)
        #expect(try status(harness, "web") == "stopped", "policy none leaves it stopped")

        // Back under `sleep`, a request starts the stopped particle. A cold boot outlasts the
        // 1 s hold: the browser gets the 504 page that reloads itself, and the boot goes on.
        #expect(try harness.ssh("idle", "web", "sleep").status == 0)
        let page = try harness.get(host: "web-\(account).particle.localhost", accept: "text/html")
        #expect(page.status == 504, "\(page)")
        #expect(page.body.contains("is starting") && page.body.contains("reloads by itself"), "\(page.body)")
        try waitForStatus(harness, "web", "running", within: 90)
        try waitForStatus(harness, "web", "sleeping", within: 30)

        // `schedule`: started when its window opens, asleep when idle outside it. The window
        // is 2-3 hours from now; the test moves particled's clock into it and out again.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let opens = Date().addingTimeInterval(2 * 3600)
        let closes = opens.addingTimeInterval(3600)
        let format = { (date: Date) in
            String(format: "%02d:%02d", calendar.component(.hour, from: date), calendar.component(.minute, from: date))
        }
        let window = "mon-sun \(format(opens))-\(format(closes)) UTC"
        let set = try harness.ssh("idle", "web", "schedule", "--schedule", "'\(window)'")
        #expect(set.status == 0, "\(set.output)")
        Thread.sleep(forTimeInterval: 2)
        #expect(try status(harness, "web") == "sleeping", "the window is closed")
        // The window opens at the start of the minute of `opens`.
        let opening = ISO8601DateFormatter().string(
            from: Date(timeIntervalSince1970: (opens.timeIntervalSince1970 / 60).rounded(.down) * 60))
        let scheduled = try jsonObject(try harness.ssh("status", "web", "--json").output)
        #expect(scheduled["wake_at"] as? String == opening, "\(scheduled)")
        try "\(2 * 3600 + 120)".write(to: clockFile, atomically: true, encoding: .utf8)
        try waitForStatus(harness, "web", "running", within: 90)
        #expect(harness.log.contains("policy schedule"))
        Thread.sleep(forTimeInterval: 6)
        #expect(try status(harness, "web") == "running", "inside its window it stays awake while idle")
        try "\(3 * 3600 + 300)".write(to: clockFile, atomically: true, encoding: .utf8)
        try waitForStatus(harness, "web", "sleeping", within: 30)
    }

    /// Checks that a cron job due while the particle sleeps wakes it and that cron runs the job
    /// at once. The particle then stays awake while the job's minute lasts, and sleeps again.
    func checkCronJobWakes(_ harness: ParticledHarness) throws {
        let crontab = try harness.ssh(
            "exec", "web", "--",
            "at=$(( ($(date +%s) + 20 + 59) / 60 * 60 )); echo \"$(date -d @$at +%-M) * * * * touch /root/cron-ran\""
                + " | crontab - && echo $at")
        #expect(crontab.status == 0, "\(crontab.output) \(crontab.errorOutput)")
        let due = try #require(Double(crontab.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        let job = "cron job /var/spool/cron/crontabs/root:"
        try waitForStatus(harness, "web", "sleeping", within: 30)
        #expect(harness.log.contains("wake_for=\"\(job)"), "particled's log has no wake_for for the cron job")
        let asleep = try jsonObject(try harness.ssh("why-awake", "web", "--json").output)
        #expect((asleep["wake_reason"] as? String)?.hasPrefix(job) == true, "\(asleep)")
        #expect(asleep["wake_at"] as? String == ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: due)), "\(asleep)")

        try waitUntil(within: 90, "the cron job to wake the particle") {
            harness.log.contains("reason=\"guest \(job)")
        }
        var ranAt: Double?
        do {
            try waitUntil(within: 60, "the cron job to run") {
                let read = try? harness.ssh("exec", "web", "--", "stat -c %Y /root/cron-ran")
                ranAt = read.flatMap { Double($0.output.trimmingCharacters(in: .whitespacesAndNewlines)) }
                return ranAt != nil
            }
        } catch {
            let state = try? harness.ssh(
                "exec", "web", "--", "date; crontab -l; ls -l --time-style=+%s /root; systemctl show cron -p ActiveState,MainPID,NRestarts,ExecMainStartTimestamp")
            throw HarnessError("\(error); in the guest:\n\(state?.output ?? "") \(state?.errorOutput ?? "")")
        }
        // The agent's nudge after the wake makes cron run the job at once. Without it, cron would
        // sleep on for as long as the particle slept before the job's minute, 13 s or more here.
        let delay = (ranAt ?? 0) - due
        print("IdleTests: the cron job ran \(delay) s after its minute began")
        #expect(delay >= 0, "the job ran \(-delay) s before its minute began")
        #expect(delay < 8, "the job ran \(delay) s after its minute began")

        // Idle, the particle stays awake while the job's minute lasts, then sleeps again.
        if Date().timeIntervalSince1970 < due + 30 {
            Thread.sleep(until: Date(timeIntervalSince1970: due + 40))
            #expect(try status(harness, "web") == "running")
            #expect(harness.log.contains("timer=\"\(job)"), "no log line of the due cron job keeping it awake")
        }
        try waitForStatus(harness, "web", "sleeping", within: 90)
        #expect(Date().timeIntervalSince1970 >= due + 60)

        // The job would wake the particle when the test moves particled's clock.
        #expect(try harness.ssh("exec", "web", "--", "crontab -r").status == 0)
        try waitForStatus(harness, "web", "sleeping", within: 30)
    }

    // MARK: - Helpers

    func status(_ harness: ParticledHarness, _ name: String) throws -> String {
        let result = try harness.ssh("status", name, "--json")
        return (try jsonObject(result.output)["status"] as? String) ?? "unknown: \(result.output)"
    }

    func waitForStatus(_ harness: ParticledHarness, _ name: String, _ wanted: String, within seconds: Double) throws {
        do {
            try waitUntil(within: seconds, "\(name) to be \(wanted)") { (try? status(harness, name)) == wanted }
        } catch {
            let lines = harness.log.split(separator: "\n").filter { line in
                (!line.contains("module=ssh") || line.contains("tunnel")) && !line.contains("msg=command")
            }
            throw HarnessError("\(error); particled's log without SSH sessions ends with:\n\(lines.suffix(25).joined(separator: "\n"))")
        }
    }

    func waitUntil(within seconds: Double, _ what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return }
            Thread.sleep(forTimeInterval: 0.25)
        }
        throw HarnessError("timed out after \(Int(seconds)) s waiting for \(what)")
    }

    func qemuPIDs(_ harness: ParticledHarness, _ id: String) -> [Int32] {
        let socket = harness.stateDirectory.appendingPathComponent("particles/\(id)/qmp.sock").path
        let result = try? Command.runAllowingFailure("pgrep", ["-f", "qemu-system.*\(socket)"])
        return result?.output.split(separator: "\n").compactMap { Int32($0) } ?? []
    }
}

extension ParticledHarness {
    /// Runs `command` with `sh` in its own session in the background and returns its process
    /// group, for `stopBackground`. Python starts it, closing every inherited descriptor:
    /// Foundation's `Process` leaves pipe ends of other commands open in its children, and a
    /// background child holding one would keep a later `Command` run waiting for its end.
    func startBackground(_ command: String) throws -> Int32 {
        let launcher = """
            import subprocess, sys
            child = subprocess.Popen(sys.argv[1], shell=True, start_new_session=True, close_fds=True,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            print(child.pid)
            """
        let result = try Command.run("python3", ["-c", launcher, command])
        guard let group = Int32(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessError("cannot start in the background: \(command)")
        }
        return group
    }

    /// Kills the process group: SIGKILL, as the test runner's children may inherit SIGTERM ignored.
    func stopBackground(_ group: Int32) {
        kill(-group, SIGKILL)
        Thread.sleep(forTimeInterval: 0.5)
    }

    /// An `ssh -W TARGET` through the gateway, held open until `stopBackground`.
    func backgroundJump(to target: String) throws -> Int32 {
        try startBackground(
            "sleep 3600 | ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
                + " -o LogLevel=ERROR -i \(keyPath) -p \(sshPort) -W \(target) 127.0.0.1")
    }

    /// Opens an upgraded connection (an HTTP/1.1 Upgrade answered by 101) through the proxy to
    /// `host` and holds it until `stopBackground`.
    func upgradedConnection(host: String) throws -> Int32 {
        let marker = directory.appendingPathComponent("upgrade-\(UUID())").path
        let script = """
            import socket, time
            s = socket.create_connection(('127.0.0.1', \(httpPort)), timeout=60)
            s.sendall(b'GET /chat HTTP/1.1\\r\\nHost: \(host)\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n')
            head = b''
            while b'\\r\\n\\r\\n' not in head:
                head += s.recv(1024)
            assert head.startswith(b'HTTP/1.1 101'), head
            s.sendall(b'ping')
            assert s.recv(4) == b'ping'
            open('\(marker)', 'w').write('open')
            time.sleep(3600)
            """
        let scriptFile = directory.appendingPathComponent("upgrade-\(UUID()).py")
        try script.write(to: scriptFile, atomically: true, encoding: .utf8)
        let group = try startBackground("python3 \(scriptFile.path)")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: marker) { return group }
            Thread.sleep(forTimeInterval: 0.1)
        }
        stopBackground(group)
        throw HarnessError("the upgraded connection to \(host) did not open")
    }
}
