import Foundation

/// The files of one particle under `<state>/particles/<id>/`.
struct ParticleFiles {
    let directory: URL
    /// The guest's RAM file on tmpfs, which exists only while QEMU starts (then it is unlinked).
    let ramFile: URL

    init(stateDirectory: URL, memoryDirectory: URL, particleID: String) {
        directory = stateDirectory.appendingPathComponent("particles/\(particleID)")
        ramFile = memoryDirectory.appendingPathComponent("\(particleID).ram")
    }

    var disk: URL { file("disk.qcow2") }
    var configDrive: URL { file("config.img") }
    var hostKey: URL { file("ssh_host_ed25519_key") }
    var hostKeyPublic: URL { file("ssh_host_ed25519_key.pub") }
    var qmpSocket: URL { file("qmp.sock") }
    var serialSocket: URL { file("serial.sock") }
    var pidFile: URL { file("qemu.pid") }
    /// The guest agent's serial port (ttyS1 in the guest), a unix socket QEMU listens on.
    var agentSocket: URL { file("agent.sock") }
    /// The argument vector QEMU was last started with, so that a wake recreates the same
    /// machine that the saved memory belongs to.
    var launchArguments: URL { file("qemu.argv") }
    /// The guest's saved device state (and any RAM not in `ramFile`) while the particle
    /// sleeps. Renamed into place last, so its presence means a complete saved state.
    var memoryState: URL { file("memory.state") }
    /// The device state while it is being written.
    var memoryStatePartial: URL { file("memory.state.partial") }
    /// The guest's RAM while the particle sleeps, a sparse copy of its tmpfs RAM file.
    var savedRAM: URL { file("memory.ram") }
    /// The RAM copy while it is being written.
    var savedRAMPartial: URL { file("memory.ram.partial") }

    /// Present while the saved memory is another particle's (a duplicate with memory): the
    /// guest takes this particle's identity at its next wake.
    var identityPending: URL { file("identity.pending") }

    /// Present in the folder of a guest that builds a template, which has no particle in the
    /// store. It contains the template's folder. A restart of particled removes such a folder with
    /// its QEMU, since the build it belonged to ended with the process that ran it.
    var templateBuild: URL { file("template-build") }

    /// Whether a complete saved memory state exists.
    var hasMemoryState: Bool { FileManager.default.fileExists(atPath: memoryState.path) }

    private func file(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// The PID of the particle's QEMU if it still runs, checked against its command line so that
    /// a reused PID is never mistaken for it.
    func runningPID() -> Int32? {
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
            kill(pid, 0) == 0,
            let commandLine = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))
        else { return nil }
        let arguments = String(decoding: commandLine, as: UTF8.self)
        return arguments.contains(qmpSocket.path) ? pid : nil
    }

    /// When the running QEMU started, from its PID file's modification time.
    func startedAt() -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: pidFile.path))?[.modificationDate]
            as? Date
    }
}
