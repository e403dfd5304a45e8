import CLinux
import Foundation
import Support

/// Records how watched processes end, from the kernel's process events (the proc connector).
///
/// QEMU daemonizes, so it is not a child of particled and `waitpid` cannot report its end.
/// The kernel's exit events carry the wait status of every process. With it the VMM
/// distinguishes a guest that powered off (exit status 0) from a QEMU killed by a signal, like
/// the SIGBUS of a RAM file that could not grow on a full tmpfs.
final class ProcessExitWatcher: Sendable {
    /// The end of one watched process.
    struct Exit: Sendable, Equatable {
        var pid: Int32
        /// The wait status, as `waitpid(2)` reports it.
        var status: Int32

        /// Describes the status in words: "exit status 1" or "killed by signal 7 (SIGBUS)".
        var description: String { Self.describe(status) }

        static func describe(_ status: Int32) -> String {
            let signal = status & 0x7f
            guard signal != 0 else { return "exit status \((status >> 8) & 0xff)" }
            let name = particle_signal_name(signal).map { "SIG" + String(cString: $0) } ?? "unknown"
            let core = status & 0x80 != 0 ? ", core dumped" : ""
            return "killed by signal \(signal) (\(name)\(core))"
        }
    }

    private struct State {
        /// The key (a particle id) of each watched process.
        var watched: [Int32: String] = [:]
        /// The last recorded end for each key.
        var exits: [String: Exit] = [:]
    }

    private let state = Locked(State())
    /// The reason the kernel's process events are not available (not root, or not in the
    /// initial PID namespace), or nil when they are.
    let unavailableReason: String?

    /// Subscribes to the kernel's process events and reads them on a thread of its own for the
    /// life of the process.
    init() {
        let fd = particle_process_events_open()
        guard fd >= 0 else {
            unavailableReason = "cannot subscribe to the kernel's process events: \(String(cString: strerror(errno)))"
            return
        }
        unavailableReason = nil
        let thread = Thread { [state] in Self.readEvents(fd, into: state) }
        thread.name = "process-exits"
        thread.start()
    }

    /// Starts watching process `pid` under `key`, forgetting the key's earlier exit.
    func watch(_ pid: Int32, key: String) {
        state.withLock { state in
            state.watched[pid] = key
            state.exits[key] = nil
        }
    }

    /// Returns and removes the last recorded end of a process watched under `key`.
    func takeExit(key: String) -> Exit? {
        state.withLock { $0.exits.removeValue(forKey: key) }
    }

    private static func readEvents(_ fd: Int32, into state: Locked<State>) {
        var pids = [Int32](repeating: 0, count: 256)
        var statuses = [Int32](repeating: 0, count: 256)
        while true {
            let count = particle_process_events_read(fd, &pids, &statuses, Int32(pids.count))
            if count < 0 {
                // ENOBUFS: events were lost while the socket was full, and the next ones still come.
                if errno == EINTR || errno == ENOBUFS { continue }
                Logger(label: "vmm").warning(
                    "reading the kernel's process events failed; QEMU exit statuses are no longer recorded",
                    ["error": String(cString: strerror(errno))])
                close(fd)
                return
            }
            guard count > 0 else { continue }
            state.withLock { state in
                for index in 0..<Int(count) {
                    guard let key = state.watched.removeValue(forKey: pids[index]) else { continue }
                    state.exits[key] = Exit(pid: pids[index], status: statuses[index])
                }
            }
        }
    }
}
