import Foundation

/// The `qemu-system-x86_64` command line for one guest on the microvm machine type.
///
/// The guest boots the image's uncompressed `vmlinux` through its PVH entry point with the
/// busybox initramfs, from a qcow2 overlay on `/dev/vda` and the config drive on `/dev/vdb`.
/// The serial console goes to `serial`, QMP listens on `qmpSocketPath`, and a guest reboot or
/// panic ends QEMU (`-no-reboot`, `panic=-1`), so the VMM gets a process exit for both.
public struct QEMUArguments: Sendable, Equatable {
    /// Destination of the guest's serial console (ttyS0).
    public enum SerialConsole: Sendable, Equatable {
        /// A unix socket that QEMU listens on (`server=on,wait=off`); the VMM connects to read it.
        case socket(path: String)
        /// A file that QEMU appends the output to.
        case file(path: String)
    }

    public var accelerator: Accelerator
    /// Guest memory in MiB.
    public var memoryMiB: Int
    /// Number of vCPUs.
    public var cpus: Int
    /// The uncompressed kernel (`vmlinux` of the image).
    public var kernel: URL
    /// The image's `initramfs.cpio.gz`.
    public var initramfs: URL
    /// The particle's qcow2 overlay, which becomes `/dev/vda`.
    public var rootDisk: URL
    /// The raw config drive image, attached read-only as `/dev/vdb`.
    public var configDrive: URL
    /// Name of the tap device, which must exist in QEMU's network namespace.
    public var tap: String
    /// MAC address of the guest's eth0, `52:54:00:xx:xx:xx` style.
    public var macAddress: String
    public var serial: SerialConsole
    /// Unix socket path of the QMP monitor.
    public var qmpSocketPath: String
    /// File that QEMU writes its process id to.
    public var pidFile: String
    /// Host TSC rate in kHz, passed to the guest under TCG (see `Accelerator.hostTSCKilohertz`).
    public var tscKilohertz: Int?
    /// Extra words for the kernel command line.
    public var extraKernelArguments: [String]
    /// Starts with `-incoming defer`, waiting for QMP `migrate-incoming` to load a saved state.
    public var incomingMigration: Bool
    /// A file to keep guest RAM in (`memory-backend-file`, `share=on`), or nil for anonymous
    /// memory. Needed for migration with `x-ignore-shared`, which saves only device state.
    public var memoryFile: String?
    /// Unix socket for the guest agent's serial port (ttyS1 in the guest), or nil for none.
    public var agentSocketPath: String?

    public init(
        accelerator: Accelerator, memoryMiB: Int, cpus: Int, kernel: URL, initramfs: URL,
        rootDisk: URL, configDrive: URL, tap: String, macAddress: String, serial: SerialConsole,
        qmpSocketPath: String, pidFile: String, tscKilohertz: Int? = nil,
        extraKernelArguments: [String] = [], incomingMigration: Bool = false,
        memoryFile: String? = nil, agentSocketPath: String? = nil
    ) {
        self.accelerator = accelerator
        self.memoryMiB = memoryMiB
        self.cpus = cpus
        self.kernel = kernel
        self.initramfs = initramfs
        self.rootDisk = rootDisk
        self.configDrive = configDrive
        self.tap = tap
        self.macAddress = macAddress
        self.serial = serial
        self.qmpSocketPath = qmpSocketPath
        self.pidFile = pidFile
        self.tscKilohertz = tscKilohertz
        self.extraKernelArguments = extraKernelArguments
        self.incomingMigration = incomingMigration
        self.memoryFile = memoryFile
        self.agentSocketPath = agentSocketPath
    }

    /// The kernel command line.
    ///
    /// `pci=off` because microvm has no PCI bus, so the kernel skips probing for one.
    /// `tsc_early_khz` and `tsc=reliable` are added under TCG only: without them a microvm guest
    /// under TCG sometimes hangs at "tsc: Unable to calibrate against PIT" (QEMU 7.2, Linux 6.1).
    public var kernelCommandLine: String {
        var words = [
            "console=ttyS0", "reboot=t", "panic=-1", "quiet", "net.ifnames=0", "pci=off",
            "root=/dev/vda", "rw",
        ]
        if accelerator == .tcg, let tscKilohertz {
            words += ["tsc_early_khz=\(tscKilohertz)", "tsc=reliable"]
        }
        return (words + extraKernelArguments).joined(separator: " ")
    }

    /// Builds the argument vector, without the program name.
    public func arguments() -> [String] {
        var machine = Self.machineOptions
        var memory: [String] = []
        if let memoryFile {
            machine += ",memory-backend=ram0"
            memory = [
                "-object",
                "memory-backend-file,id=ram0,size=\(memoryMiB)M,mem-path=\(Self.escape(memoryFile)),share=on",
            ]
        }

        var arguments = ["-M", machine] + accelerator.qemuArguments + Self.commonOptions
        arguments += ["-m", "\(memoryMiB)M", "-smp", "\(cpus)"] + memory
        arguments += [
            "-kernel", kernel.path, "-initrd", initramfs.path, "-append", kernelCommandLine,
        ]

        // Device order sets the disk names: the first virtio-blk device is /dev/vda.
        arguments += [
            "-drive",
            "id=root,if=none,file=\(Self.escape(rootDisk.path)),format=qcow2,discard=unmap",
            "-device", "virtio-blk-device,drive=root",
            "-drive",
            "id=config,if=none,file=\(Self.escape(configDrive.path)),format=raw,readonly=on",
            "-device", "virtio-blk-device,drive=config",
            "-netdev", "tap,id=net0,ifname=\(tap),script=no,downscript=no",
            "-device", "virtio-net-device,netdev=net0,mac=\(macAddress)",
            "-device", "virtio-rng-device",
        ]
        arguments += ["-chardev", serialChardev, "-serial", "chardev:serial0"]
        if let agentSocketPath {
            // microvm makes one serial port; the agent's is a second 16550 at COM2's address.
            arguments += [
                "-chardev", "socket,id=agent,path=\(Self.escape(agentSocketPath)),server=on,wait=off",
                "-device", "isa-serial,chardev=agent,index=1",
            ]
        }
        arguments += [
            "-chardev", "socket,id=qmp,path=\(Self.escape(qmpSocketPath)),server=on,wait=off",
            "-mon", "chardev=qmp,mode=control", "-pidfile", pidFile,
        ]
        if incomingMigration { arguments += ["-incoming", "defer"] }
        return arguments
    }

    private var serialChardev: String {
        switch serial {
        case .socket(let path): "socket,id=serial0,path=\(Self.escape(path)),server=on,wait=off"
        case .file(let path): "file,id=serial0,path=\(Self.escape(path)),append=on"
        }
    }

    /// Doubles commas, which QEMU's option syntax reads as separators otherwise.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: ",", with: ",,")
    }

    /// microvm without option ROMs (nothing to run them for), with an RTC so that the guest
    /// starts with the right wall-clock time, and with ACPI for the power button.
    static let machineOptions = "microvm,x-option-roms=off,rtc=on,acpi=on"

    /// Options every QEMU run shares: no default devices, no user config, no display, and exit
    /// on guest reboot.
    static let commonOptions = ["-nodefaults", "-no-user-config", "-nographic", "-no-reboot"]
}
