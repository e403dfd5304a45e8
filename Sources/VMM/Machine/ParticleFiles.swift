import Foundation

/// The files of one particle under `<state>/particles/<id>/`.
struct ParticleFiles {
    let directory: URL

    init(stateDirectory: URL, particleID: String) {
        directory = stateDirectory.appendingPathComponent("particles/\(particleID)")
    }

    var disk: URL { file("disk.qcow2") }
    var configDrive: URL { file("config.img") }
    var hostKey: URL { file("ssh_host_ed25519_key") }
    var hostKeyPublic: URL { file("ssh_host_ed25519_key.pub") }
    var qmpSocket: URL { file("qmp.sock") }
    var serialSocket: URL { file("serial.sock") }
    var pidFile: URL { file("qemu.pid") }

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
