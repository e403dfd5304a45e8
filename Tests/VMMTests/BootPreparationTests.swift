import Foundation
import Support
import Testing

@testable import VMM

/// Builds the `debian-12` image and writes everything one guest needs into a folder, for
/// `scripts/boot-check.sh`, which boots it in a network namespace and checks it from outside.
///
/// Runs only when `PARTICLE_BOOT_PREPARE` names the output folder: a build takes about a
/// minute, needs root and downloads packages from the host's apt sources. The image is cached
/// in `PARTICLE_STATE_DIR` (default `/var/tmp/particle-boot-check`).
@Suite struct BootPreparationTests {
    static let outputFolder = ProcessInfo.processInfo.environment["PARTICLE_BOOT_PREPARE"]

    @Test(.enabled(if: outputFolder != nil), .timeLimit(.minutes(20)))
    func prepareGuest() throws {
        let output = URL(fileURLWithPath: Self.outputFolder!)
        let environment = ProcessInfo.processInfo.environment
        let state = URL(
            fileURLWithPath:
                environment["PARTICLE_STATE_DIR"] ?? "/var/tmp/particle-boot-check")
        let logger = Logger(label: "boot-check")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)

        let builder = ImageBuilder(stateDirectory: state, logger: logger)
        let started = ContinuousClock.now
        let image = try builder.build("debian-12") { line in print("build: \(line)") }
        print("build-seconds: \((ContinuousClock.now - started).components.seconds)")

        let accelerator = Accelerator.probe(
            kernel: image.kernel, initramfs: image.initramfs, deadline: .seconds(3),
            logger: logger)
        print("accelerator: \(accelerator)")

        // The overlay is what the VMM creates per particle: a 10 GiB qcow2 on the read-only base.
        let disk = output.appendingPathComponent("disk.qcow2")
        try? FileManager.default.removeItem(at: disk)
        try Command.run(
            "qemu-img",
            [
                "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image.rootDisk.path, disk.path,
                "10G",
            ])

        try writeKeys(in: output)
        let hostKey = try String(
            contentsOf: output.appendingPathComponent("host_key"), encoding: .utf8)
        let hostKeyPublic = try String(
            contentsOf: output.appendingPathComponent("host_key.pub"), encoding: .utf8)
        let platformKey = try String(
            contentsOf: output.appendingPathComponent("platform_key.pub"), encoding: .utf8)
        let drive = ConfigDrive(
            hostname: "imgtest", machineID: "0123456789abcdef0123456789abcdef",
            address: "10.213.0.2", macAddress: "52:54:0a:d5:00:02", prefixLength: 24, gateway: "10.213.0.1", dns: ["10.213.0.1"],
            authorizedKeys: [platformKey], hostKeyPrivate: hostKey, hostKeyPublic: hostKeyPublic)
        let driveStarted = ContinuousClock.now
        try drive.write(to: output.appendingPathComponent("config.img"))
        print(
            "config-drive-ms: \((ContinuousClock.now - driveStarted).components.attoseconds / 1_000_000_000_000_000)"
        )

        let arguments = QEMUArguments(
            accelerator: accelerator, memoryMiB: 1024, cpus: 1, kernel: image.kernel,
            initramfs: image.initramfs, rootDisk: disk,
            configDrive: output.appendingPathComponent("config.img"), tap: "pimgtest-tap0",
            macAddress: "52:54:00:12:34:56",
            serial: .file(path: output.appendingPathComponent("serial.log").path),
            qmpSocketPath: output.appendingPathComponent("qmp.sock").path,
            pidFile: output.appendingPathComponent("qemu.pid").path,
            tscKilohertz: Accelerator.hostTSCKilohertz())
        let argv = arguments.arguments().joined(separator: "\n") + "\n"
        try Data(argv.utf8).write(to: output.appendingPathComponent("qemu.args"))
    }

    private func writeKeys(in folder: URL) throws {
        for name in ["host_key", "platform_key"] {
            let key = folder.appendingPathComponent(name)
            try? FileManager.default.removeItem(at: key)
            try? FileManager.default.removeItem(at: key.appendingPathExtension("pub"))
            try Command.run(
                "ssh-keygen",
                [
                    "-q", "-t", "ed25519", "-N", "", "-C", name, "-f",
                    key.path,
                ])
        }
    }
}
