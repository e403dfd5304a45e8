import Foundation
import Support

/// Accelerator that runs guest code: hardware virtualization (KVM) or QEMU's translator (TCG).
public enum Accelerator: String, Sendable, Equatable {
    case kvm
    case tcg

    /// `-accel` and `-cpu` arguments.
    ///
    /// TCG uses `qemu64`, the fastest model to translate that Debian's x86-64 baseline runs on.
    /// KVM passes the host CPU through.
    public var qemuArguments: [String] {
        switch self {
        case .kvm: ["-accel", "kvm", "-cpu", "host"]
        case .tcg: ["-accel", "tcg", "-cpu", "qemu64"]
        }
    }

    /// Chooses KVM only if a short boot under KVM prints the probe marker before `deadline`.
    ///
    /// A `/dev/kvm` that exists is not enough: a software backend behind it (such as `kvm_pvm`)
    /// may run a stock kernel so slowly that it never reaches `/init`, and `-cpu host` can fail
    /// on an MSR the backend does not support. The probe boots `kernel` with `initramfs` and
    /// `particle.probe` on the command line; the image's initramfs then prints the marker and
    /// powers off. Blocks the calling thread for at most about `deadline`.
    public static func probe(
        kernel: URL, initramfs: URL, deadline: Duration, logger: Logger
    ) -> Accelerator {
        let hasVirtualizationFlags = cpuHasVirtualizationFlags()
        let fields = ["cpu_vmx_or_svm": hasVirtualizationFlags ? "yes" : "no"]
        guard FileManager.default.isWritableFile(atPath: "/dev/kvm") else {
            logger.warning(
                "KVM unavailable; guests run under TCG",
                fields.merging(["reason": "/dev/kvm is missing or not writable"]) { $1 })
            return .tcg
        }

        let started = ContinuousClock.now
        let outcome = ProbeBoot(
            accelerator: .kvm, kernel: kernel, initramfs: initramfs, deadline: deadline
        ).run()
        let milliseconds = (ContinuousClock.now - started).milliseconds
        switch outcome {
        case .success:
            logger.info(
                "KVM probe succeeded; guests run under KVM",
                fields.merging(["ms": "\(milliseconds)"]) { $1 })
            return .kvm
        case .failure(let reason):
            logger.warning(
                "KVM probe failed; guests run under TCG",
                fields.merging(["reason": reason, "ms": "\(milliseconds)"]) { $1 })
            return .tcg
        }
    }

    /// Returns the host's TSC rate in kHz, read at run time, or nil if it cannot be read.
    ///
    /// Under TCG the guest's TSC counts at the host's rate. The guest needs that rate on its
    /// command line (`tsc_early_khz`) because calibration against the emulated PIT can hang.
    /// NOTE: falls back to `cpu MHz` in /proc/cpuinfo, which equals the TSC rate inside VMs
    /// and on CPUs without frequency scaling but can show the current core clock elsewhere.
    public static func hostTSCKilohertz() -> Int? {
        let sysfs = "/sys/devices/system/cpu/cpu0/tsc_freq_khz"
        if let text = try? String(contentsOfFile: sysfs, encoding: .utf8),
            let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), value > 0
        {
            return value
        }
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return nil
        }
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("cpu MHz") {
            let value = line.split(separator: ":").last.map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            if let value, let megahertz = Double(value), megahertz > 0 {
                return Int((megahertz * 1000).rounded())
            }
        }
        return nil
    }

    static func cpuHasVirtualizationFlags() -> Bool {
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return false
        }
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
        let words = flags.split(separator: " ")
        return words.contains("vmx") || words.contains("svm")
    }
}


/// One short boot that waits for the initramfs's probe marker on the serial console.
///
/// `Accelerator.probe` runs it under KVM. The tests also run it under TCG to show that the
/// initramfs prints the marker, so that a failed KVM probe points at the accelerator.
struct ProbeBoot {
    enum Outcome {
        case success
        case failure(String)
    }

    let accelerator: Accelerator
    let kernel: URL
    let initramfs: URL
    let deadline: Duration

    func run() -> Outcome {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("particle-probe-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let serial = folder.appendingPathComponent("serial.log")
        let errors = folder.appendingPathComponent("stderr.log")
        let process = Process()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data().write(to: errors)
            process.executableURL = URL(fileURLWithPath: try Command.resolve("qemu-system-x86_64"))
            process.arguments = arguments(serial: serial)
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: errors)
            try process.run()
        } catch {
            return .failure("cannot start QEMU: \(error)")
        }
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }

        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end {
            if let output = try? String(contentsOf: serial, encoding: .utf8),
                output.contains(GuestFiles.probeMarker)
            {
                return .success
            }
            if !process.isRunning {
                let message = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
                let lastLine = message.split(separator: "\n").last.map(String.init) ?? ""
                return .failure(
                    "QEMU exited with status \(process.terminationStatus) before the marker: "
                        + lastLine)
            }
            usleep(20_000)
        }
        return .failure("no probe marker on the serial console within \(deadline)")
    }

    private func arguments(serial: URL) -> [String] {
        var commandLine = "console=ttyS0 reboot=t panic=-1 quiet pci=off particle.probe"
        if accelerator == .tcg, let tscKilohertz = Accelerator.hostTSCKilohertz() {
            commandLine += " tsc_early_khz=\(tscKilohertz) tsc=reliable"
        }
        return ["-M", QEMUArguments.machineOptions] + accelerator.qemuArguments
            + QEMUArguments.commonOptions
            + [
                "-m", "128M", "-smp", "1", "-kernel", kernel.path, "-initrd", initramfs.path,
                "-append", commandLine,
                "-chardev", "file,id=serial0,path=\(QEMUArguments.escape(serial.path))",
                "-serial", "chardev:serial0",
            ]
    }
}
