import Foundation
import Support
import Testing

/// The gateway's commands with the OpenSSH client against a running particled: the account
/// commands beside their REST endpoints, help, exit statuses, and the interactive prompt.
/// None of them boots a guest.
@Suite(.serialized) struct GatewayCommandTests {
    @Test func accountCommandsMatchREST() throws {
        let stripe = try StripeStandIn()
        defer { stripe.stop() }
        let harness = try ParticledHarness()
        defer { harness.stop() }
        let config = harness.directory.appendingPathComponent("config.json")
        try jsonText([
            "stripe_api_base": stripe.baseURL, "stripe_secret_key": "sk_test_gateway",
            "checkout_success_url": "https://example.com/paid",
            "checkout_cancel_url": "https://example.com/cancelled",
        ]).write(to: config, atomically: true, encoding: .utf8)
        try harness.start(extraArguments: ["--config", config.path])

        let issued = try harness.ssh("api-key", "--json")
        try #require(issued.status == 0, "api-key: \(issued.errorOutput)")
        let rotation = try jsonObject(issued.output)
        let apiKey = try #require(rotation["api_key"] as? String)
        #expect(rotation["message"] as? String == "API key rotated. Old key is now invalid.")

        try checkBalance(harness, apiKey: apiKey)
        try checkTopUp(harness, stripe: stripe, apiKey: apiKey)
        try checkEmail(harness, apiKey: apiKey)
        try checkHistoryAndUsage(harness, apiKey: apiKey)

        let challenge = try jsonObject(try harness.ssh("keys", "challenge", "--json").output)
        #expect(challenge["namespace"] as? String == "particle")
        #expect((challenge["challenge"] as? String)?.hasPrefix("particle-account-v1:") == true)
        #expect(challenge["expires_at"] is String)
    }

    private func checkBalance(_ harness: ParticledHarness, apiKey: String) throws {
        let text = try harness.ssh("balance")
        #expect(text.status == 0)
        #expect(text.output == "$0.00 (0 cents)\n")
        try expectSameJSON(harness, ssh: ["balance", "--json"], rest: "/v1/account", apiKey: apiKey)
        let extra = try harness.ssh("balance", "now")
        #expect(extra.status == 2)
        #expect(extra.errorOutput == "error: unexpected argument 'now'; usage: balance\n")
    }

    private func checkTopUp(_ harness: ParticledHarness, stripe: StripeStandIn, apiKey: String)
        throws
    {
        let small = try harness.ssh("topup", "999")
        let smallREST = try harness.api(
            "POST", "/v1/account/topup", key: apiKey, json: #"{"amount": 999}"#)
        #expect(small.status == 2)
        #expect(small.errorOutput == "error: \(smallREST.errorMessage)\n")
        let notNumber = try harness.ssh("topup", "25.00")
        #expect(notNumber.status == 2)
        #expect(notNumber.errorOutput.contains("invalid amount '25.00'; give whole cents"))
        #expect(try harness.ssh("topup").status == 2)

        let paid = try harness.ssh("topup", "2500", "--json")
        #expect(paid.status == 0, "topup: \(paid.errorOutput)")
        #expect(try jsonObject(paid.output).keys.sorted() == ["url"])
        #expect(
            try jsonObject(paid.output)["url"] as? String
                == "https://checkout.stripe.com/c/pay/cs_test_standin1")
        let text = try harness.ssh("topup", "1000")
        #expect(text.status == 0)
        #expect(text.output.hasPrefix("https://checkout.stripe.com/c/pay/cs_test_standin"))
        #expect(text.errorOutput.contains("Open the URL to pay $10.00"))
        #expect(stripe.requests.value.count == 2)
    }

    private func checkEmail(_ harness: ParticledHarness, apiKey: String) throws {
        let invalid = try harness.ssh("email", "not-an-address")
        let invalidREST = try harness.api(
            "PUT", "/v1/account/email", key: apiKey, json: #"{"email": "not-an-address"}"#)
        #expect(invalid.status == 2)
        #expect(invalid.errorOutput == "error: \(invalidREST.errorMessage)\n")

        let set = try harness.ssh("email", "owner@example.com", "--json")
        #expect(set.status == 0)
        #expect(try jsonObject(set.output) as NSDictionary == ["email": "owner@example.com"])
        let text = try harness.ssh("email", "second@example.com")
        #expect(text.output == "recovery email set to second@example.com\n")
        let account = try harness.api("GET", "/v1/account", key: apiKey).object()
        #expect(account["recovery_email"] as? String == "second@example.com")
    }

    private func checkHistoryAndUsage(_ harness: ParticledHarness, apiKey: String) throws {
        let empty = try harness.ssh("history")
        #expect(empty.status == 0)
        #expect(empty.output == "no transactions yet; add funds with `topup CENTS`\n")
        try expectSameJSON(
            harness, ssh: ["history", "--json"], rest: "/v1/account/history", apiKey: apiKey)
        try expectSameJSON(
            harness, ssh: ["history", "--limit", "5", "--json"], rest: "/v1/account/history?limit=5",
            apiKey: apiKey)
        let badLimit = try harness.ssh("history", "--limit", "0")
        #expect(badLimit.status == 2)
        #expect(badLimit.errorOutput == "error: invalid limit 0; use 1-1000\n")

        for period in ["day", "week", "month", "all"] {
            let ssh = try jsonObject(try harness.ssh("usage", period, "--json").output)
            let rest = try harness.api("GET", "/v1/account/usage?period=\(period)", key: apiKey)
                .object()
            // "end" is the time of each request, so it may differ by a second.
            for key in ["period", "start", "total_cents", "particles"] {
                #expect(
                    (ssh[key] as? NSObject)?.isEqual(rest[key]) == true,
                    "usage \(period) field \(key): \(ssh[key] ?? "nil") vs \(rest[key] ?? "nil")")
            }
            #expect(ssh.keys.sorted() == rest.keys.sorted())
        }
        let text = try harness.ssh("usage")
        #expect(text.status == 0)
        #expect(text.output.hasPrefix("month: "))
        #expect(text.output.hasSuffix("total $0.00\n"))
        let bad = try harness.ssh("usage", "year")
        let badREST = try harness.api("GET", "/v1/account/usage?period=year", key: apiKey)
        #expect(bad.status == 2)
        #expect(bad.errorOutput == "error: \(badREST.errorMessage)\n")
    }

    /// Checks that `ssh host ARGS` prints the same JSON as GET `rest`.
    private func expectSameJSON(
        _ harness: ParticledHarness, ssh arguments: [String], rest path: String, apiKey: String
    ) throws {
        let ssh = try Command.runAllowingFailure("ssh", harness.sshArguments() + arguments)
        #expect(ssh.status == 0, "\(arguments): \(ssh.errorOutput)")
        let rest = try harness.api("GET", path, key: apiKey)
        #expect(rest.status == 200)
        #expect(
            try jsonObject(ssh.output) as NSDictionary == (try rest.object()) as NSDictionary,
            "ssh \(arguments) printed \(ssh.output); GET \(path) returned \(rest.body)")
    }

    @Test func helpStatusesAndRefusals() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        try harness.start()

        let overview = try harness.ssh("help")
        #expect(overview.status == 0)
        let names = overview.output.split(separator: "\n", omittingEmptySubsequences: false)
            .drop { !$0.hasPrefix("commands:") }.dropFirst()
            .prefix { !$0.isEmpty }
            .map { String($0.split(separator: " ").first ?? "") }
        #expect(names.count >= 25, "commands in help: \(names)")
        for name in Set(names) {
            let help = try harness.ssh("help", name)
            #expect(help.status == 0, "help \(name): \(help.errorOutput)")
            #expect(help.output.contains("usage: \(name)"), "help \(name): \(help.output)")
            #expect(
                help.output.contains("examples:\n  ssh -p \(harness.sshPort) localhost \(name)"),
                "help \(name) lacks an example: \(help.output)")
        }

        let cases: [(arguments: [String], status: Int32, error: String)] = [
            (["crate", "web"], 2, "error: unknown command 'crate'; run `help` to list the commands"),
            (["show", "nosuch"], 3, "error: particle 'nosuch' not found; run `ls` to see your particles"),
            (["logs", "nosuch", "-f"], 3, "error: particle 'nosuch' not found"),
            (["logs", "web", "-x"], 2, "error: unknown option -x for logs; see `help logs`"),
            (["logs", "web", "--offset", "-1"], 2, "error: invalid offset -1; use 0 or more bytes"),
            (["help", "nosuch"], 2, "error: unknown command 'nosuch'"),
            // A schedule as a shell passes it (OpenSSH joins the words with spaces), and quoted
            // once more: both parse, and the particle is looked up.
            (["idle", "nosuch", "schedule", "--schedule", "mon-fri 08:00-19:00 Europe/Berlin"], 3,
             "error: particle 'nosuch' not found"),
            (["idle", "nosuch", "schedule", "--schedule", "'mon-fri 08:00-19:00 Europe/Berlin'"], 3,
             "error: particle 'nosuch' not found"),
            (["idle", "nosuch", "schedule", "--schedule", "mon-fri 08:00-19:00 UTC", "extra"], 2,
             "error: unexpected argument 'extra'"),
        ]
        for (arguments, status, error) in cases {
            let result = try Command.runAllowingFailure("ssh", harness.sshArguments() + arguments)
            #expect(result.status == status, "\(arguments): \(result.errorOutput)")
            #expect(result.errorOutput.hasPrefix(error), "\(arguments): \(result.errorOutput)")
            #expect(result.errorOutput.split(separator: "\n").count == 1, "\(arguments)")
        }

        // A user name that names no particle reaches the gateway, whose error mentions it.
        let typo = try harness.ssh("uname", user: "wbe")
        #expect(typo.status == 2)
        #expect(typo.errorOutput.contains("no particle is named 'wbe' either"))

        // Without a command or a terminal: a short help text.
        let bare = try Command.runAllowingFailure("ssh", harness.sshArguments(), input: Data())
        #expect(bare.status == 0)
        #expect(bare.output.contains("ssh -p \(harness.sshPort) NAME@localhost"))
        #expect(bare.output.split(separator: "\n").count < 8)

        // Each request that the gateway rejects gets a reason on stderr, and the command
        // still runs.
        let remote = try harness.ssh("whoami", options: ["-R", "127.0.0.1:0:127.0.0.1:9"])
        #expect(remote.status == 0)
        #expect(remote.errorOutput.contains("warning: remote port forwarding (ssh -R"))
        let sftp = try Command.runAllowingFailure(
            "sftp", ["-b", "/dev/null"] + harness.sshArguments().map { $0 == "-p" ? "-P" : $0 })
        #expect(sftp.status != 0)
        #expect(sftp.errorOutput.contains("the gateway has no subsystem 'sftp'"))
    }

    /// Drives `ssh -t` without a command: typing with Tab completion and Backspace, an
    /// arrow-up history recall edited with Ctrl-A and arrows, Ctrl-U, Ctrl-C, and Ctrl-D.
    @Test func interactivePrompt() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        try harness.start()
        let accountID = try harness.ssh("whoami", "--json").output
            .firstMatch(of: /"id": "([0-9a-f]{12})"/).map { String($0.1) } ?? "?"

        let command = ["ssh", "-t"] + harness.sshArguments()
        let escape = "\u{1B}"
        let steps: [[String: Any]] = [
            ["resize": [30, 100]],
            ["expect": "particle> ", "timeout": 30],
            // "whoam" + Tab completes to "whoami ".
            ["send": "whoam\t"], ["expect": "whoami "],
            ["send": "\r"], ["expect": "balance_cents"],
            // Backspace fixes a typo.
            ["send": "imagez\u{7F}s\r"], ["expect": "debian-12"],
            // Arrow up twice recalls "whoami"; Ctrl-A, two arrows right, Ctrl-E edit it.
            ["send": "\(escape)[A\(escape)[A"], ["sleep": 0.3],
            ["send": "\u{01}\(escape)[C\(escape)[C\u{05} --json\r"], ["expect": "\"balance_cents\": 0"],
            // Ctrl-U drops what was typed; Ctrl-C drops a line and shows ^C.
            ["send": "delete everything\u{15}show nosuch\r"],
            ["expect": "error: particle 'nosuch' not found"],
            ["send": "half a line\u{03}"], ["expect": "^C"],
            ["send": "\u{04}"],
        ]
        let result = try TerminalDriver.run(command, steps: steps, in: harness.directory)
        #expect(result.missing == nil, "never saw '\(result.missing ?? "")' in: \(result.transcript)")
        // Like a shell's, the prompt's exit status is that of its last command (`show nosuch`).
        #expect(result.status == 3, "transcript: \(result.transcript)")
        #expect(result.transcript.contains("Particle gateway, account \(accountID)"))
        #expect(result.transcript.contains("id              \(accountID)"))
        #expect(!result.transcript.contains("'everything'"), "the line cleared with Ctrl-U ran")
        #expect(!result.transcript.contains("unknown command 'half"))
    }
}
