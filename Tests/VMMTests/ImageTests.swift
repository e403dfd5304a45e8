import Foundation
import Support
import Testing

@testable import VMM

@Suite struct HostKernelTests {
    static let kernel = HostKernel.find()

    func withTemporaryFolder(_ body: (URL) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("image-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try body(folder)
    }

    @Test func moduleLoadOrderPutsDependenciesFirst() throws {
        try withTemporaryFolder { folder in
            let modulesDep = """
                kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
                kernel/drivers/virtio/virtio_ring.ko:
                kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko \
                kernel/drivers/virtio/virtio_ring.ko
                kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko \
                kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko \
                kernel/drivers/virtio/virtio_ring.ko
                kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
                kernel/net/core/failover.ko:

                """
            try Data(modulesDep.utf8).write(to: folder.appendingPathComponent("modules.dep"))
            let kernel = HostKernel(
                version: "test", bzImage: folder.appendingPathComponent("vmlinuz"),
                modules: folder)

            let order = try kernel.moduleLoadOrder(["virtio_mmio", "virtio-net"])
            #expect(
                order == [
                    "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
                    "kernel/drivers/virtio/virtio_mmio.ko", "kernel/net/core/failover.ko",
                    "kernel/drivers/net/net_failover.ko", "kernel/drivers/net/virtio_net.ko",
                ])
            #expect(throws: KernelError.self) { try kernel.moduleLoadOrder(["no_such_module"]) }
        }
    }

    @Test(.enabled(if: kernel != nil)) func extractsVmlinuxFromHostKernel() throws {
        let kernel = try #require(Self.kernel)
        try withTemporaryFolder { folder in
            let vmlinux = folder.appendingPathComponent("vmlinux")
            try kernel.extractVmlinux(to: vmlinux, scratch: folder)

            let notes = try Command.run("readelf", ["-n", vmlinux.path]).output
            // XEN_ELFNOTE_PHYS32_ENTRY (0x12) is the PVH entry point that QEMU boots.
            #expect(notes.contains("Xen"))
            #expect(notes.contains("0x00000012") || notes.contains("PHYS32_ENTRY"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["vmlinux"])
        }
    }

    @Test func rejectsFileThatIsNotBzImage() throws {
        try withTemporaryFolder { folder in
            let fake = folder.appendingPathComponent("vmlinuz")
            try Data(repeating: 0, count: 4096).write(to: fake)
            let kernel = HostKernel(version: "fake", bzImage: fake, modules: folder)
            #expect(throws: KernelError.self) {
                try kernel.extractVmlinux(
                    to: folder.appendingPathComponent("vmlinux"),
                    scratch: folder)
            }
        }
    }
}

@Suite struct ImageBuilderTests {
    func withBuilder(_ body: (ImageBuilder) throws -> Void) throws {
        let state = FileManager.default.temporaryDirectory
            .appendingPathComponent("image-builder-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        try body(ImageBuilder(stateDirectory: state, logger: Logger(label: "test")))
    }

    @Test func catalogListsDebian12() throws {
        let definition = try #require(ImageBuilder.catalog.first { $0.id == "debian-12" })
        #expect(definition.displayName == "Debian 12 (Bookworm)")
        #expect(definition.suite == "bookworm")
        #expect(definition.available == (definition.unavailableReason == nil))
    }

    @Test func unknownImageIsRejected() throws {
        try withBuilder { builder in
            #expect {
                try builder.build("windows-95") { _ in }
            } throws: { error in
                (error as? ImageError)?.code == .unknownImage
            }
        }
    }

    @Test func cachedNeedsManifestAndFiles() throws {
        try withBuilder { builder in
            #expect(builder.cached("debian-12") == nil)

            let folder = builder.directory(of: "debian-12")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let manifest = """
                {"id": "debian-12", "kernel_version": "6.1.0-57-cloud-amd64",
                 "built_at": "2026-01-02T03:04:05Z", "kernel_size": 3, "initramfs_size": 3,
                 "rootfs_size": 3, "rootfs_virtual_size": 2147483648}
                """
            try Data(manifest.utf8).write(to: folder.appendingPathComponent("image.json"))
            #expect(builder.cached("debian-12") == nil, "files are still missing")

            for name in ["vmlinux", "initramfs.cpio.gz", "rootfs.qcow2"] {
                try Data("abc".utf8).write(to: folder.appendingPathComponent(name))
            }
            let image = try #require(builder.cached("debian-12"))
            #expect(image.kernelVersion == "6.1.0-57-cloud-amd64")
            #expect(image.rootDiskVirtualSize == 2 << 30)
            #expect(image.kernel.path == folder.appendingPathComponent("vmlinux").path)
        }
    }
}

/// Probe boots with the image's kernel and initramfs; run when an image has been built in
/// `PARTICLE_STATE_DIR` (default `/var/tmp/particle-boot-check`), for example by
/// `scripts/boot-check.sh`.
@Suite struct AcceleratorTests {
    static let image = ImageBuilder(
        stateDirectory: URL(
            fileURLWithPath:
                ProcessInfo.processInfo.environment["PARTICLE_STATE_DIR"]
                ?? "/var/tmp/particle-boot-check"),
        logger: Logger(label: "test")
    ).cached("debian-12")

    @Test(.enabled(if: image != nil)) func probeMarkerArrivesUnderTCG() throws {
        let image = try #require(Self.image)
        let outcome = ProbeBoot(
            accelerator: .tcg, kernel: image.kernel, initramfs: image.initramfs,
            deadline: .seconds(30)
        ).run()
        guard case .success = outcome else {
            Issue.record("TCG probe boot failed: \(outcome)")
            return
        }
    }

    @Test(.enabled(if: image != nil)) func probeFinishesByDeadline() throws {
        let image = try #require(Self.image)
        let started = ContinuousClock.now
        let accelerator = Accelerator.probe(
            kernel: image.kernel, initramfs: image.initramfs, deadline: .seconds(3),
            logger: Logger(label: "test"))
        #expect(ContinuousClock.now - started < .seconds(5))
        if !Accelerator.cpuHasVirtualizationFlags() {
            #expect(accelerator == .tcg)
        }
    }
}
