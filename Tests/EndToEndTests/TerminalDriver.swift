import Foundation
import Support

/// Runs a command on a real pseudo-terminal (Python's `pty` module) and plays a script of
/// keystrokes, window size changes and expected output against it, as a person at a
/// terminal would.
///
/// Each step is one of `["send": TEXT]`, `["expect": TEXT, "timeout": SECONDS]` (wait until
/// the output so far contains TEXT), `["resize": [ROWS, COLUMNS]]` (TIOCSWINSZ and SIGWINCH)
/// and `["sleep": SECONDS]`. A failed `expect` ends the script early with the transcript so
/// far, so that the caller's checks show what arrived.
enum TerminalDriver {
    struct Result {
        /// The command's exit status, or -1 if the script gave up on an `expect`.
        var status: Int32
        /// Everything the command wrote to the terminal.
        var transcript: String
        /// The `expect` text that never arrived, if any.
        var missing: String?
    }

    static func run(_ command: [String], steps: [[String: Any]], in directory: URL) throws -> Result {
        let script = directory.appendingPathComponent("terminal_driver.py")
        try source.write(to: script, atomically: true, encoding: .utf8)
        let plan = directory.appendingPathComponent("terminal-\(UUID()).json")
        let planData = try JSONSerialization.data(withJSONObject: ["command": command, "steps": steps])
        try planData.write(to: plan)
        defer { try? FileManager.default.removeItem(at: plan) }

        let result = try Command.runAllowingFailure("python3", [script.path, plan.path])
        guard let report = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        else {
            throw HarnessError("terminal driver failed: \(result.errorOutput)\(result.output)")
        }
        return Result(
            status: Int32(report["status"] as? Int ?? -1),
            transcript: report["transcript"] as? String ?? "",
            missing: report["missing"] as? String)
    }

    private static let source = #"""
        import fcntl, json, os, pty, select, signal, struct, sys, termios, time

        plan = json.load(open(sys.argv[1]))
        pid, fd = pty.fork()
        if pid == 0:
            # The test runner may have blocked or ignored signals, and children inherit that;
            # the command must see SIGWINCH and friends as it would in a shell.
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                           signal.SIGPIPE, signal.SIGWINCH):
                signal.signal(number, signal.SIG_DFL)
            os.execvp(plan["command"][0], plan["command"])

        transcript = b""

        def pump(seconds):
            global transcript
            end = time.time() + seconds
            while True:
                remaining = end - time.time()
                if remaining <= 0:
                    return True
                ready, _, _ = select.select([fd], [], [], min(remaining, 0.05))
                if ready:
                    try:
                        data = os.read(fd, 65536)
                    except OSError:
                        return False
                    if not data:
                        return False
                    transcript += data

        def expect(text, timeout):
            end = time.time() + timeout
            while text.encode() not in transcript:
                if time.time() > end or not pump(0.05):
                    return text.encode() in transcript
            return True

        missing = None
        for step in plan["steps"]:
            if "send" in step:
                os.write(fd, step["send"].encode())
                pump(0.05)
            elif "expect" in step:
                if not expect(step["expect"], step.get("timeout", 30)):
                    missing = step["expect"]
                    break
            elif "resize" in step:
                rows, columns = step["resize"]
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
                os.kill(pid, signal.SIGWINCH)
                pump(0.2)
            elif "sleep" in step:
                pump(step["sleep"])

        status = -1
        if missing is None:
            end = time.time() + 30
            while time.time() < end:
                done, code = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = os.waitstatus_to_exitcode(code)
                    break
                pump(0.05)
        if status == -1:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        pump(0.1)
        print(json.dumps({"status": status, "missing": missing,
                          "transcript": transcript.decode("utf-8", "replace")}))
        """#
}
