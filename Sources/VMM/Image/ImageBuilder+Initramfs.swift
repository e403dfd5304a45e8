import Foundation
import Support

extension ImageBuilder {
    /// Modules the initramfs loads before mounting the root disk, dependencies resolved.
    ///
    /// In Debian's cloud kernel virtio and the ACPI button are modules, while ext4 and the
    /// 8250 serial console are built in. `button` is loaded early so that the power button works
    /// even if QMP `system_powerdown` arrives before udev has run. `virtio_rng` seeds the
    /// kernel's random number generator at once: without it (and without RDRAND, which the
    /// TCG `qemu64` model lacks) the pool was ready only 8 s into boot, and sshd waited for it.
    static let initramfsModules = [
        "virtio_mmio", "virtio_blk", "virtio_net", "virtio_rng",
        "button",
    ]

    /// Path of the statically linked busybox (Debian package busybox-static).
    static let busybox = "/bin/busybox"

    /// Writes a gzip-compressed newc cpio archive with busybox, the modules and `/init`.
    func makeInitramfs(kernel: HostKernel, to destination: URL, scratch: URL) throws {
        let tree = scratch.appendingPathComponent("initramfs")
        let files = FileManager.default
        for folder in ["bin", "dev", "proc", "sys", "newroot", "config", "lib/modules"] {
            try files.createDirectory(
                at: tree.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        defer { try? files.removeItem(at: tree) }

        try files.copyItem(
            atPath: Self.busybox, toPath: tree.appendingPathComponent("bin/busybox").path)
        try write(GuestFiles.initramfsInit, to: tree.appendingPathComponent("init"), mode: 0o755)

        // The kernel opens /dev/console for /init before devtmpfs is mounted.
        try Command.run(
            "mknod",
            [
                "-m", "600", tree.appendingPathComponent("dev/console").path,
                "c", "5", "1",
            ])

        let order = try kernel.moduleLoadOrder(Self.initramfsModules)
        let moduleFolder = tree.appendingPathComponent("lib/modules")
        for path in order {
            let target = moduleFolder.appendingPathComponent(path)
            try files.createDirectory(
                at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try files.copyItem(at: kernel.modules.appendingPathComponent(path), to: target)
        }
        try write(
            order.joined(separator: "\n"),
            to: moduleFolder.appendingPathComponent("load-order"), mode: 0o644)

        let script = #"cd "$1" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -9 > "$2""#
        try Command.run(
            "bash",
            [
                "-o", "pipefail", "-c", script, "bash", tree.path,
                destination.path,
            ])
    }
}
