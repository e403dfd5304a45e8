import Foundation
import Testing

@testable import VMM

@Suite struct QEMUArgumentsTests {
    static let base = QEMUArguments(
        accelerator: .tcg, memoryMiB: 2048, cpus: 2,
        kernel: URL(fileURLWithPath: "/state/images/debian-12/vmlinux"),
        initramfs: URL(fileURLWithPath: "/state/images/debian-12/initramfs.cpio.gz"),
        rootDisk: URL(fileURLWithPath: "/state/particles/p1/disk.qcow2"),
        configDrive: URL(fileURLWithPath: "/state/particles/p1/config.img"), tap: "pt-p1",
        macAddress: "52:54:00:00:00:01", serial: .socket(path: "/state/particles/p1/serial.sock"),
        qmpSocketPath: "/state/particles/p1/qmp.sock", pidFile: "/state/particles/p1/qemu.pid",
        tscKilohertz: 2_596_124)

    /// Returns the value that follows the first `option` in `arguments`.
    func value(after option: String, in arguments: [String]) -> String? {
        guard let index = arguments.firstIndex(of: option), index + 1 < arguments.count else {
            return nil
        }
        return arguments[index + 1]
    }

    /// Returns every value that follows `option` in `arguments`, in order.
    func values(after option: String, in arguments: [String]) -> [String] {
        arguments.indices.dropLast().filter { arguments[$0] == option }.map { arguments[$0 + 1] }
    }

    @Test func tcgUsesMicrovmAndQemu64() {
        let arguments = Self.base.arguments()
        #expect(value(after: "-M", in: arguments)?.hasPrefix("microvm,") == true)
        #expect(value(after: "-accel", in: arguments) == "tcg")
        #expect(value(after: "-cpu", in: arguments) == "qemu64")
        for flag in ["-nodefaults", "-no-user-config", "-nographic", "-no-reboot"] {
            #expect(arguments.contains(flag), "missing \(flag)")
        }
        #expect(value(after: "-m", in: arguments) == "2048M")
        #expect(value(after: "-smp", in: arguments) == "2")
    }

    @Test func kvmUsesHostCPU() {
        var configuration = Self.base
        configuration.accelerator = .kvm
        let arguments = configuration.arguments()
        #expect(value(after: "-accel", in: arguments) == "kvm")
        #expect(value(after: "-cpu", in: arguments) == "host")
    }

    @Test func commandLineHasTSCOnlyUnderTCG() {
        let tcg = Self.base.kernelCommandLine.split(separator: " ")
        for word in [
            "console=ttyS0", "reboot=t", "panic=-1", "quiet", "net.ifnames=0",
            "root=/dev/vda", "rw", "tsc_early_khz=2596124", "tsc=reliable",
        ] {
            #expect(tcg.contains(Substring(word)), "missing \(word)")
        }
        var kvm = Self.base
        kvm.accelerator = .kvm
        #expect(!kvm.kernelCommandLine.contains("tsc_early_khz"))
        #expect(value(after: "-append", in: Self.base.arguments()) == Self.base.kernelCommandLine)
    }

    @Test func commandLineAddsExtraArguments() {
        var configuration = Self.base
        configuration.extraKernelArguments = ["systemd.unit=rescue.target"]
        #expect(configuration.kernelCommandLine.hasSuffix(" systemd.unit=rescue.target"))
    }

    @Test func bootsKernelAndInitramfs() {
        let arguments = Self.base.arguments()
        #expect(value(after: "-kernel", in: arguments) == "/state/images/debian-12/vmlinux")
        #expect(
            value(after: "-initrd", in: arguments)
                == "/state/images/debian-12/initramfs.cpio.gz")
    }

    @Test func rootDiskComesBeforeConfigDrive() {
        let arguments = Self.base.arguments()
        let drives = values(after: "-drive", in: arguments)
        #expect(
            drives == [
                "id=root,if=none,file=/state/particles/p1/disk.qcow2,format=qcow2,discard=unmap",
                "id=config,if=none,file=/state/particles/p1/config.img,format=raw,readonly=on",
            ])
        let devices = values(after: "-device", in: arguments)
        #expect(
            devices.prefix(2) == [
                "virtio-blk-device,drive=root",
                "virtio-blk-device,drive=config",
            ])
    }

    @Test func networkUsesGivenTapAndMAC() {
        let arguments = Self.base.arguments()
        #expect(
            value(after: "-netdev", in: arguments)
                == "tap,id=net0,ifname=pt-p1,script=no,downscript=no")
        #expect(
            values(after: "-device", in: arguments).contains(
                "virtio-net-device,netdev=net0,mac=52:54:00:00:00:01"))
    }

    @Test func serialGoesToSocketOrFile() {
        let socket = values(after: "-chardev", in: Self.base.arguments())
        #expect(
            socket.contains(
                "socket,id=serial0,path=/state/particles/p1/serial.sock,server=on,wait=off"))

        var configuration = Self.base
        configuration.serial = .file(path: "/state/particles/p1/serial.log")
        let file = values(after: "-chardev", in: configuration.arguments())
        #expect(file.contains("file,id=serial0,path=/state/particles/p1/serial.log,append=on"))
        #expect(value(after: "-serial", in: configuration.arguments()) == "chardev:serial0")
    }

    @Test func qmpAndPidFile() {
        let arguments = Self.base.arguments()
        #expect(
            values(after: "-chardev", in: arguments).contains(
                "socket,id=qmp,path=/state/particles/p1/qmp.sock,server=on,wait=off"))
        #expect(value(after: "-mon", in: arguments) == "chardev=qmp,mode=control")
        #expect(value(after: "-pidfile", in: arguments) == "/state/particles/p1/qemu.pid")
        #expect(!arguments.contains("-incoming"))
    }

    @Test func incomingMigrationWaits() {
        var configuration = Self.base
        configuration.incomingMigration = true
        #expect(value(after: "-incoming", in: configuration.arguments()) == "defer")
    }

    @Test func memoryFileBacksGuestRAM() {
        var configuration = Self.base
        configuration.memoryFile = "/dev/shm/p1.ram"
        let arguments = configuration.arguments()
        #expect(value(after: "-M", in: arguments)?.hasSuffix(",memory-backend=ram0") == true)
        #expect(
            value(after: "-object", in: arguments)
                == "memory-backend-file,id=ram0,size=2048M,mem-path=/dev/shm/p1.ram,share=on")
    }

    @Test func commasInPathsAreEscaped() {
        var configuration = Self.base
        configuration.rootDisk = URL(fileURLWithPath: "/state/a,b/disk.qcow2")
        let drives = values(after: "-drive", in: configuration.arguments())
        #expect(drives.first?.contains("file=/state/a,,b/disk.qcow2,format=qcow2") == true)
    }

    @Test func hostTSCRateIsPlausible() throws {
        let kilohertz = try #require(Accelerator.hostTSCKilohertz())
        #expect((100_000...10_000_000).contains(kilohertz))
    }
}
