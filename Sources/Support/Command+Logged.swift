import CLinux
import Foundation

extension Command {
    /// Runs `executable` with its output appended to `logPath`, inheriting no descriptors and
    /// in a session of its own, and waits for it to exit; returns its exit status.
    ///
    /// For programs that leave a daemon behind (QEMU with `-daemonize`): the daemon must not
    /// keep any of this process's descriptors open. Blocks the calling thread.
    public static func runLogged(_ executable: String, _ arguments: [String], logPath: String)
        throws -> Int32
    {
        let path = try resolve(executable)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let pid = particle_spawn(path, argv, logPath)
        guard pid > 0 else {
            throw CommandError(
                command: executable, status: 127,
                errorOutput: "cannot start \(path): \(String(cString: strerror(errno)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS are macros; decode the wait status by hand.
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
