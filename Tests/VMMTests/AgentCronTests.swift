import Foundation
import Support
import Testing

@testable import VMM

/// The guest agent's cron parser (`GuestFiles.agent --next-cron`), run on the host with perl
/// against fixture crontabs and a fixed time.
@Suite struct AgentCronTests {
    /// Wednesday 2025-01-15 10:30:20 UTC.
    static let now = 1_736_937_020

    /// /etc/crontab as Debian's cron-daemon-common 3.0pl1-162 installs it.
    static let debianCrontab = """
        # /etc/crontab: system-wide crontab
        SHELL=/bin/sh
        PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

        # Example of job definition:
        # *  *  *  *  * user-name command to be executed
        17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly
        25 6\t* * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }
        47 6\t* * 7\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }
        52 6\t1 * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.monthly; }
        #

        """

    /// /etc/cron.d/e2scrub_all of Debian's e2fsprogs.
    static let e2scrubCronD = """
        30 3 * * 0 root test -e /run/systemd/system || SERVICE_MODE=1 /usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron
        10 3 * * * root test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r

        """

    /// A root folder with the agent, /etc/passwd and an empty spool, removed at the end.
    final class Root {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("agent-cron-\(UUID())")
        var agent: URL { folder.appendingPathComponent("particle-agent") }

        init() throws {
            for path in ["etc/cron.d", "etc/cron.daily", "var/spool/cron/crontabs", "usr/lib/particle", "run"] {
                try FileManager.default.createDirectory(
                    at: folder.appendingPathComponent(path), withIntermediateDirectories: true)
            }
            try write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nweb:x:1000:1000::/home/web:/bin/sh\n")
            try Data(GuestFiles.agent.utf8).write(to: agent)
        }

        deinit { try? FileManager.default.removeItem(at: folder) }

        func write(_ path: String, _ text: String, executable: Bool = false) throws {
            let url = folder.appendingPathComponent(path)
            try Data(text.utf8).write(to: url)
            try FileManager.default.setAttributes(
                [.posixPermissions: executable ? 0o755 : 0o644], ofItemAtPath: url.path)
        }

        /// Runs the agent's test mode and returns its reply to `timers`.
        func reply(now: Int = AgentCronTests.now, timeZone: String = "UTC") throws -> String {
            let result = try Command.run(
                "perl", [agent.path, "--next-cron", folder.path, String(now)],
                environment: ["TZ": timeZone])
            #expect(result.errorOutput.isEmpty, "the agent printed: \(result.errorOutput)")
            return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// Returns the next run as "ISO-TIME FILE:LINE", or "none".
        func nextRun(now: Int = AgentCronTests.now, timeZone: String = "UTC") throws -> String {
            let words = try reply(now: now, timeZone: timeZone).split(separator: " ").map(String.init)
            guard let seconds = words.first.flatMap(Int.init), seconds > 0 else { return "none" }
            let name = words.first { $0.hasPrefix("name=") }?.dropFirst(5) ?? "?"
            return "\(AgentCronTests.iso(seconds)) \(name)"
        }

        /// Returns the next run of a user crontab that contains `text` alone, as "ISO-TIME" or
        /// "none".
        func nextRun(ofCrontab text: String, now: Int = AgentCronTests.now, timeZone: String = "UTC")
            throws -> String
        {
            try write("var/spool/cron/crontabs/root", text + "\n")
            return String(try nextRun(now: now, timeZone: timeZone).split(separator: " ")[0])
        }
    }

    static func iso(_ seconds: Int) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    static func epoch(_ iso: String) -> Int {
        Int(ISO8601DateFormatter().date(from: iso)!.timeIntervalSince1970)
    }

    @Test func fieldsAndDayRules() throws {
        let root = try Root()
        let cases: [(line: String, next: String)] = [
            // The current minute counts until it ends: cron starts its jobs within it.
            ("*/15 * * * * job", "2025-01-15T10:30:00Z"),
            ("29 10 * * * job", "2025-01-16T10:29:00Z"),
            ("0,45 9,10 * * * job", "2025-01-15T10:45:00Z"),
            ("0 9-17/4 * * * job", "2025-01-15T13:00:00Z"),
            ("5/20 10 * * * job", "2025-01-15T10:45:00Z"),
            ("0 0 * * sun job", "2025-01-19T00:00:00Z"),
            ("0 8 * * 7 job", "2025-01-19T08:00:00Z"),
            ("0 0 1 FEB * job", "2025-02-01T00:00:00Z"),
            ("0 8 * feb-mar mon-fri job", "2025-02-03T08:00:00Z"),
            // Both day fields restricted: either one matching is enough.
            ("0 8 25 * fri job", "2025-01-17T08:00:00Z"),
            // A day field that starts with '*' makes both fields count.
            ("0 8 */5 * fri job", "2025-01-31T08:00:00Z"),
            ("0 8 25 * * job", "2025-01-25T08:00:00Z"),
            ("0 0 29 2 * job", "2028-02-29T00:00:00Z"),
            ("0 0 31 4 * job", "none"),
            // CRON_TZ and TZ only set the job's environment in Debian's cron.
            ("CRON_TZ=Asia/Tokyo\nTZ=Asia/Tokyo\n0 12 * * * job", "2025-01-15T12:00:00Z"),
        ]
        for (line, next) in cases {
            #expect(try root.nextRun(ofCrontab: line) == next, "\(line)")
        }
    }

    @Test func keywordForms() throws {
        let root = try Root()
        let cases: [(line: String, next: String)] = [
            ("@hourly job", "2025-01-15T11:00:00Z"),
            ("@daily job", "2025-01-16T00:00:00Z"),
            ("@midnight job", "2025-01-16T00:00:00Z"),
            ("@weekly job", "2025-01-19T00:00:00Z"),
            ("@monthly job", "2025-02-01T00:00:00Z"),
            ("@yearly job", "2026-01-01T00:00:00Z"),
            ("@annually job", "2026-01-01T00:00:00Z"),
            ("@reboot job", "none"),
        ]
        for (line, next) in cases {
            #expect(try root.nextRun(ofCrontab: line) == next, "\(line)")
        }
    }

    @Test func repliesFollowTheClock() throws {
        let root = try Root()
        try root.write("var/spool/cron/crontabs/root", "*/15 * * * * job\n")
        // One agent replies at each time, reusing a job's result until its time has passed.
        let times = ["2025-01-15T10:30:20Z", "2025-01-15T10:31:00Z", "2025-01-15T10:44:59Z", "2025-01-15T10:45:30Z", "2025-01-15T10:46:00Z"]
        let result = try Command.run(
            "perl", [root.agent.path, "--next-cron", root.folder.path] + times.map { String(Self.epoch($0)) },
            environment: ["TZ": "UTC"])
        let replies = result.output.split(separator: "\n").map { Self.iso(Int($0.split(separator: " ")[0])!) }
        #expect(replies == ["2025-01-15T10:30:00Z", "2025-01-15T10:45:00Z", "2025-01-15T10:45:00Z", "2025-01-15T10:45:00Z", "2025-01-15T11:00:00Z"])
    }

    @Test func localTimeZone() throws {
        let root = try Root()
        // 11:30 in Berlin (UTC+1): noon there is 11:00 UTC.
        #expect(try root.nextRun(ofCrontab: "0 12 * * * job", timeZone: "Europe/Berlin") == "2025-01-15T11:00:00Z")
        // On 30 March 2025 Berlin's clocks jump from 02:00 to 03:00. cron runs a fixed-time job
        // of the skipped hour right after the jump, and a wildcard one at its next match.
        let beforeJump = Self.epoch("2025-03-30T00:40:00Z")
        #expect(
            try root.nextRun(ofCrontab: "30 2 * * * job", now: beforeJump, timeZone: "Europe/Berlin")
                == "2025-03-30T01:00:00Z")
        #expect(
            try root.nextRun(ofCrontab: "30 * * * * job", now: beforeJump, timeZone: "Europe/Berlin")
                == "2025-03-30T01:30:00Z")
    }

    @Test func malformedLinesAreSkipped() throws {
        let root = try Root()
        let malformed = [
            "61 * * * * job", "* * * * *", "0 0 * * mon- job", "*/0 * * * * job", "5-1 * * * * job",
            "0 0 * 13 * job", "0 0 0 * * job", "0 0 * * monday job", "@sometimes job", "a b c d e f",
            "0,,5 * * * * job", "1-2-3 * * * * job", "99999999999999999999 * * * * job", "-1 * * * * job",
            "\u{00ff}\u{00fe} * * * * job", "   ", "# 0 * * * * comment",
        ]
        try root.write("var/spool/cron/crontabs/root", (malformed + ["45 10 * * * job"]).joined(separator: "\n") + "\n")
        #expect(try root.nextRun() == "2025-01-15T10:45:00Z /var/spool/cron/crontabs/root:\(malformed.count + 1)")

        var random = SystemRandomNumberGenerator()
        let noise = Data((0..<200_000).map { _ in UInt8.random(in: 0...255, using: &random) })
        try noise.write(to: root.folder.appendingPathComponent("var/spool/cron/crontabs/root"))
        let reply = try root.reply()
        #expect(reply.hasPrefix("0") || reply.contains("kind=cron"), "\(reply)")
    }

    @Test func crontabsOfUsersAndSystem() throws {
        let root = try Root()
        try root.write("var/spool/cron/crontabs/web", "50 10 * * * job\n")
        // crontab(1) edits a temporary file in the spool; cron reads only users' crontabs.
        try root.write("var/spool/cron/crontabs/tmp.XXXXab", "31 10 * * * job\n")
        try root.write("etc/cron.d/backup", "SHELL=/bin/bash\n40 10 * * * root job\n")
        // cron skips names with a dot in /etc/cron.d, like those dpkg leaves.
        try root.write("etc/cron.d/backup.dpkg-old", "32 10 * * * root job\n")
        try root.write("etc/crontab", "45 10 * * * root job\n")
        #expect(try root.nextRun() == "2025-01-15T10:40:00Z /etc/cron.d/backup:2")
        // A system crontab line without a user and command is skipped.
        try root.write("etc/cron.d/backup", "35 10 * * * root\n")
        #expect(try root.nextRun() == "2025-01-15T10:45:00Z /etc/crontab:1")
    }

    @Test func imageHousekeepingIsSkipped() throws {
        let root = try Root()
        try root.write("etc/crontab", Self.debianCrontab)
        try root.write("etc/cron.d/e2scrub_all", Self.e2scrubCronD)
        try root.write("etc/cron.daily/dpkg", "#!/bin/sh\n", executable: true)
        try Command.run("perl", [root.agent.path, "--record-stock-cron", root.folder.path])
        #expect(try root.nextRun() == "none")

        // A script that run-parts would skip (not executable, or with a dot) changes nothing.
        try root.write("etc/cron.daily/notes", "#!/bin/sh\n")
        try root.write("etc/cron.daily/backup.sh", "#!/bin/sh\n", executable: true)
        #expect(try root.nextRun() == "none")

        // A script that a user adds to /etc/cron.daily makes its run-parts line count.
        try root.write("etc/cron.daily/backup", "#!/bin/sh\n", executable: true)
        #expect(try root.nextRun() == "2025-01-16T06:25:00Z /etc/crontab:8")
        try FileManager.default.removeItem(at: root.folder.appendingPathComponent("etc/cron.daily/backup"))

        // A stock line with another time, and a line a user adds, count like any other.
        let edited = Self.debianCrontab.replacingOccurrences(of: "17 *\t", with: "55 *\t")
        try root.write("etc/crontab", edited + "0 12 * * * root report\n")
        #expect(try root.nextRun() == "2025-01-15T10:55:00Z /etc/crontab:7")
        try root.write("etc/crontab", Self.debianCrontab + "0 12 * * * root report\n")
        #expect(try root.nextRun() == "2025-01-15T12:00:00Z /etc/crontab:12")
    }

    @Test func runningJobIsReported() throws {
        let root = try Root()
        try root.write("var/spool/cron/crontabs/root", "0 12 * * * job\n")
        // A stand-in for the cron daemon: named cron, with one child, and its pid file.
        let pidFile = root.folder.appendingPathComponent("run/crond.pid")
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: try Command.resolve("perl"))
        daemon.arguments = [
            "-e",
            """
            $0 = 'cron';
            my $child = fork();
            if (!$child) { $0 = 'CRON'; sleep 60; exit 0; }
            open(my $file, '>', $ARGV[0]) or die; print $file "$$\\n"; close($file);
            sleep 60;
            """,
            pidFile.path,
        ]
        try daemon.run()
        // SIGKILL for both, because the test runner's children may inherit SIGTERM blocked.
        let pid = daemon.processIdentifier
        defer {
            let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
            for child in children.split(separator: " ").compactMap({ Int32($0) }) { kill(child, SIGKILL) }
            kill(pid, SIGKILL)
            daemon.waitUntilExit()
        }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: pidFile.path) {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let reply = try root.reply()
        #expect(reply.hasPrefix("\(Self.epoch("2025-01-15T12:00:00Z")) kind=cron"), "\(reply)")
        #expect(reply.range(of: #" running-cron-job=\d+$"#, options: .regularExpression) != nil, "\(reply)")

        // A pid file of a process that is not cron is ignored.
        try root.write("run/crond.pid", "\(ProcessInfo.processInfo.processIdentifier)\n")
        #expect(!(try root.reply()).contains("running-cron-job"))
    }

    @Test func manyEntriesStayFast() throws {
        let root = try Root()
        var lines: [String] = []
        for index in 1...12 {
            lines += [
                "\(index) 3 * * * job", "*/\(index + 3) 1-5 * jan-mar mon-fri job", "0 0 29 2 * job",
                "0 0 31 2 * job", "15 14 1,20 * 5 job",
            ]
        }
        try root.write("var/spool/cron/crontabs/root", lines.joined(separator: "\n") + "\n")
        let started = ContinuousClock.now
        #expect(try root.nextRun() == "2025-01-16T01:00:00Z /var/spool/cron/crontabs/root:2")
        // Stepping minute by minute over the years to 29 February would take minutes here.
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(1), "\(lines.count) entries took \(elapsed)")
    }
}
