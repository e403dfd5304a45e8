import Foundation

/// A child process started with posix_spawn, for clients that a test keeps running while it
/// runs other commands.
///
/// Foundation's `Process` is avoided here on purpose: with one `Process` still running,
/// swift-corelibs-foundation's exit monitor was seen blocking in wait4 on that process, so
/// `waitUntilExit()` of every other `Process` hung until it ended.
final class SpawnedProcess {
    let pid: pid_t
    /// The write end of the child's standard input.
    let input: Int32
    /// The read end of the child's standard output.
    let output: Int32
    private var exited = false

    /// Starts `arguments[0]` (a path) with standard input and output on pipes and standard
    /// error on /dev/null.
    init(_ arguments: [String]) throws {
        var inputPipe: [Int32] = [0, 0]
        var outputPipe: [Int32] = [0, 0]
        guard pipe(&inputPipe) == 0, pipe(&outputPipe) == 0 else {
            throw HarnessError("pipe failed: errno \(errno)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inputPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        for fd in inputPipe + outputPipe { posix_spawn_file_actions_addclose(&actions, fd) }

        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, arguments[0], &actions, nil, argv, environ)
        close(inputPipe[0])
        close(outputPipe[1])
        guard status == 0 else {
            close(inputPipe[1])
            close(outputPipe[0])
            throw HarnessError("cannot start \(arguments[0]): error \(status)")
        }
        _ = fcntl(inputPipe[1], F_SETFD, FD_CLOEXEC)
        _ = fcntl(outputPipe[0], F_SETFD, FD_CLOEXEC)
        pid = child
        input = inputPipe[1]
        output = outputPipe[0]
    }

    deinit {
        stop()
        close(input)
        close(output)
    }

    /// Reads standard output until it contains `text` or `timeout` seconds pass; returns
    /// what was read.
    func read(until text: String, timeout: Double) -> String {
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: received, as: UTF8.self).contains(text) {
            let remaining = Int32(deadline.timeIntervalSinceNow * 1000)
            guard remaining > 0 else { break }
            var descriptor = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, remaining) == 1 else { break }
            let count = Glibc.read(output, &buffer, buffer.count)
            guard count > 0 else { break }
            received += buffer.prefix(count)
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Whether the child has exited (and is reaped).
    var hasExited: Bool {
        if exited { return true }
        var status: Int32 = 0
        exited = waitpid(pid, &status, WNOHANG) == pid
        return exited
    }

    /// Waits up to `timeout` seconds for the child to exit; returns whether it did.
    func waitForExit(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !hasExited && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return hasExited
    }

    /// Kills the child with SIGKILL, as for a client that dies or loses its network, and
    /// reaps it.
    func stop() {
        guard !hasExited else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        exited = true
    }
}
