import Foundation
import Support

extension ImageBuilder {
    /// Debian packages in every image, on top of mmdebstrap's `apt` variant (Essential + apt).
    ///
    /// dbus lets systemd-logind handle the ACPI power button, which QMP `system_powerdown`
    /// presses. kmod and udev load the remaining modules, and e2fsprogs grows the root file
    /// system. cron runs users' crontabs, as on any Debian machine.
    static let packages = [
        "systemd", "systemd-sysv", "udev", "dbus", "openssh-server", "python3", "curl",
        "ca-certificates", "sudo", "iproute2", "kmod", "e2fsprogs", "cron",
    ]

    /// Runs mmdebstrap into the directory `tree`, passing its progress lines to `report`.
    func bootstrap(
        _ definition: ImageDefinition, into tree: URL, report: @Sendable (String) -> Void
    ) throws {
        let sources = Self.aptSources(suite: definition.suite)
        report("resolving packages from \(sources)")
        var arguments = [
            "--variant=apt", "--mode=root", "--format=directory",
            "--include=" + Self.packages.joined(separator: ","),
            "--aptopt=Acquire::Languages \"none\"",
        ]
        // Guests need no man pages, documentation or translations, so dpkg skips them.
        for pattern in [
            "/usr/share/man/*", "/usr/share/doc/*", "/usr/share/info/*",
            "/usr/share/locale/*",
        ] {
            arguments.append("--dpkgopt=path-exclude=\(pattern)")
        }
        arguments.append("--dpkgopt=path-include=/usr/share/doc/*/copyright")
        arguments += [definition.suite, tree.path, sources]

        try StreamingCommand.run("mmdebstrap", arguments) { line in
            let text = line.hasPrefix("I: ") ? String(line.dropFirst(3)) : line
            if !text.isEmpty { report(text) }
        }
    }

    /// Returns the host's apt sources file when it names `suite`, else Debian's main mirror.
    ///
    /// mmdebstrap pastes a file given as its mirror argument into the guest's sources, so the
    /// guest uses the same mirror (and snapshot, if any) as the host.
    static func aptSources(suite: String) -> String {
        let candidates = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]
        for path in candidates {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            if text.contains(suite) { return path }
        }
        return "http://deb.debian.org/debian"
    }

    /// Installs Particle's guest files, masks slow units and copies the kernel's modules.
    func configure(_ tree: URL, kernel: HostKernel) throws {
        let files: [(path: String, contents: String, mode: Int)] = [
            ("usr/lib/particle/particle-init", GuestFiles.particleInit, 0o755),
            ("usr/lib/particle/particle-agent", GuestFiles.agent, 0o755),
            ("etc/systemd/system/particle-agent.service", GuestFiles.agentUnit, 0o644),
            ("etc/systemd/system/particle-init.service", GuestFiles.particleInitUnit, 0o644),
            ("etc/systemd/system/particle-growfs.service", GuestFiles.growUnit, 0o644),
            ("etc/systemd/system/particle-ready.service", GuestFiles.readyUnit, 0o644),
            ("etc/ssh/sshd_config.d/particle.conf", GuestFiles.sshdConfig, 0o644),
            (
                "etc/systemd/system/ssh.service.d/particle.conf", GuestFiles.sshServiceDropIn,
                0o644
            ),
            ("etc/modprobe.d/particle.conf", GuestFiles.modprobeConfig, 0o644),
            ("etc/fstab", GuestFiles.fstab, 0o644),
            ("etc/hostname", "particle\n", 0o644),
            ("etc/machine-id", "", 0o444),
        ]
        for file in files {
            try write(file.contents, to: tree.appendingPathComponent(file.path), mode: file.mode)
        }

        // The cron jobs that Debian's packages install (run-parts of /etc/cron.daily and the
        // like) are housekeeping, so the agent skips them unless a user changes them.
        try Command.run(
            "perl",
            [
                tree.appendingPathComponent("usr/lib/particle/particle-agent").path,
                "--record-stock-cron", tree.path,
            ])

        for folder in [GuestFiles.configMountPoint, "/root/.ssh"] {
            try FileManager.default.createDirectory(
                at: tree.appendingPathComponent(String(folder.dropFirst())),
                withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }

        // Each guest gets its own host key from the config drive; none is shared in the image.
        let sshFolder = tree.appendingPathComponent("etc/ssh")
        for name in try FileManager.default.contentsOfDirectory(atPath: sshFolder.path)
        where name.hasPrefix("ssh_host_") {
            try FileManager.default.removeItem(at: sshFolder.appendingPathComponent(name))
        }

        let units = tree.appendingPathComponent("etc/systemd/system")
        for unit in GuestFiles.maskedUnits {
            let link = units.appendingPathComponent(unit)
            try? FileManager.default.removeItem(at: link)
            try FileManager.default.createSymbolicLink(
                atPath: link.path,
                withDestinationPath: "/dev/null")
        }
        let generators = tree.appendingPathComponent("etc/systemd/system-generators")
        try FileManager.default.createDirectory(at: generators, withIntermediateDirectories: true)
        for generator in GuestFiles.disabledGenerators {
            try FileManager.default.createSymbolicLink(
                atPath: generators.appendingPathComponent(generator).path,
                withDestinationPath: "/dev/null")
        }
        try enable("particle-init.service", wantedBy: "sysinit.target", in: units)
        try enable("particle-growfs.service", wantedBy: "multi-user.target", in: units)
        try enable("particle-ready.service", wantedBy: "multi-user.target", in: units)
        try enable("particle-agent.service", wantedBy: "sysinit.target", in: units)

        // The initramfs loads only the boot modules; udev loads any other from /lib/modules.
        let modules = tree.appendingPathComponent("usr/lib/modules")
        try FileManager.default.createDirectory(at: modules, withIntermediateDirectories: true)
        try Command.run("cp", ["-a", kernel.modules.path, modules.path + "/"])
    }

    /// Makes a `rootDiskBytes` ext4 file system on the whole of `image`, filled from `tree`.
    func makeFileSystem(from tree: URL, to image: URL) throws {
        try Command.run(
            "mkfs.ext4",
            [
                "-q", "-F", "-L", "particle-root", "-m", "1", "-d", tree.path, image.path,
                "\(Self.rootDiskBytes / 1024)k",
            ])
    }

    /// Converts the raw file system image into the qcow2 base image.
    func convertToQcow2(_ raw: URL, to destination: URL) throws {
        try Command.run(
            "qemu-img",
            [
                "convert", "-f", "raw", "-O", "qcow2", raw.path,
                destination.path,
            ])
    }

    private func enable(_ unit: String, wantedBy target: String, in units: URL) throws {
        let wants = units.appendingPathComponent("\(target).wants")
        try FileManager.default.createDirectory(at: wants, withIntermediateDirectories: true)
        let link = wants.appendingPathComponent(unit)
        try? FileManager.default.removeItem(at: link)
        try FileManager.default.createSymbolicLink(
            atPath: link.path, withDestinationPath: "/etc/systemd/system/\(unit)")
    }

    func write(_ contents: String, to url: URL, mode: Int) throws {
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: url)
        let text = contents.isEmpty || contents.hasSuffix("\n") ? contents : contents + "\n"
        try Data(text.utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
    }
}
