import Foundation
import Support

#if canImport(Glibc)
    import Glibc
#endif

/// Builds guest images from Debian's archive and caches them in `<state>/images/<id>-<recipe>/`.
///
/// `<recipe>` is a digest of everything Particle puts into the image (packages, guest scripts and
/// units), so a new version of Particle with other guest files builds a new folder beside the old
/// one and never changes a base image that existing particles' disks are overlays on.
///
/// A build runs mmdebstrap, so it needs root, network access to the archive in the host's apt
/// sources, and about a minute. It writes everything into `<state>/images/.<id>.build-<pid>/`
/// and renames that folder into place at the end, so an interrupted build leaves no
/// half-made image. The next build removes the leftover folder. A file lock
/// (`<state>/images/.<id>.lock`) keeps two processes from building the same image at once.
///
/// `build` and `cached` block the calling thread: call them from a `BlockingThread`.
public final class ImageBuilder: Sendable {
    /// The images this builder can make, with whether this machine can build each.
    public static let catalog: [ImageDefinition] = [
        ImageDefinition.checked(
            id: "debian-12", displayName: "Debian 12 (Bookworm)",
            suite: "bookworm")
    ]

    /// Virtual size of the root file system in a fresh image; guests grow it at first boot.
    static let rootDiskBytes = 2 << 30

    let stateDirectory: URL
    let logger: Logger

    /// Creates a builder that keeps images under `<stateDirectory>/images/`.
    public init(stateDirectory: URL, logger: Logger) {
        self.stateDirectory = stateDirectory
        self.logger = logger
    }

    /// Folder of all images, `<state>/images`.
    public var imagesDirectory: URL { stateDirectory.appendingPathComponent("images") }

    /// The folder of image `id` as this version of Particle builds it.
    public func directory(of id: String) -> URL {
        imagesDirectory.appendingPathComponent("\(id)-\(Self.recipeDigest)")
    }

    /// A digest of the guest files and packages that every image is built with.
    static let recipeDigest: String = {
        let parts = packages + GuestFiles.recipe + [String(rootDiskBytes)]
        // FNV-1a (64 bit): stable across runs and platforms, unlike Swift's Hasher.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in parts.joined(separator: "\u{0}").utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01b3
        }
        return String(hash, radix: 16).leftPadded(to: 16).prefix(12).description
    }()

    /// Returns the finished image `id`, or nil if it has not been built (or is incomplete).
    public func cached(_ id: String) -> BuiltImage? {
        let directory = directory(of: id)
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("image.json"))
        else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.userInfo[BuiltImage.directoryKey] = directory
        guard let image = try? decoder.decode(BuiltImage.self, from: data) else { return nil }
        let files = [image.kernel, image.initramfs, image.rootDisk]
        guard files.allSatisfy({ FileManager.default.fileExists(atPath: $0.path) }) else {
            return nil
        }
        return image
    }

    /// Builds image `id`, or returns the cached one if it exists.
    ///
    /// `progress` receives human-readable lines ("[2/6] mmdebstrap: extracting archives...")
    /// on the calling thread.
    public func build(_ id: String, progress: @Sendable (String) -> Void) throws -> BuiltImage {
        guard let definition = Self.catalog.first(where: { $0.id == id }) else {
            throw ImageError.unknownImage(id)
        }
        guard definition.available else {
            throw ImageError.unavailable(id, reason: definition.unavailableReason ?? "unknown")
        }
        if let image = cached(id) {
            progress("using cached image \(id) built at \(image.builtAt)")
            return image
        }

        try FileManager.default.createDirectory(
            at: imagesDirectory, withIntermediateDirectories: true)
        let lock = try FileLock(path: imagesDirectory.appendingPathComponent(".\(id).lock").path)
        defer { lock.unlock() }
        if let image = cached(id) {
            progress("using image \(id) built by another process")
            return image
        }

        let started = ContinuousClock.now
        logger.info("image build started", ["image": id])
        let image = try buildUnlocked(definition, progress: progress)
        let seconds = (ContinuousClock.now - started).components.seconds
        logger.info("image build finished", ["image": id, "seconds": "\(seconds)"])
        progress("built image \(id) in \(seconds) s")
        return image
    }

    private func buildUnlocked(
        _ definition: ImageDefinition, progress: @Sendable (String) -> Void
    ) throws -> BuiltImage {
        let id = definition.id
        guard let kernel = HostKernel.find() else {
            throw ImageError.kernelNotFound(id, detail: "no /boot/vmlinuz-*-cloud-amd64 found")
        }
        try removeLeftoverBuilds(id)
        let work = imagesDirectory.appendingPathComponent(
            ".\(id).build-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        var finished = false
        defer { if !finished { try? FileManager.default.removeItem(at: work) } }

        let tree = work.appendingPathComponent("rootfs")
        let raw = work.appendingPathComponent("rootfs.ext4")
        try step(1, "mmdebstrap", id, progress) {
            try bootstrap(definition, into: tree) { progress("[1/6] mmdebstrap: \($0)") }
        }
        try step(2, "configure root file system", id, progress) {
            try configure(tree, kernel: kernel)
        }
        try step(3, "extract kernel", id, progress) {
            try kernel.extractVmlinux(to: work.appendingPathComponent("vmlinux"), scratch: work)
        }
        try step(4, "make initramfs", id, progress) {
            try makeInitramfs(
                kernel: kernel, to: work.appendingPathComponent("initramfs.cpio.gz"),
                scratch: work)
        }
        try step(5, "make ext4 root file system", id, progress) {
            try makeFileSystem(from: tree, to: raw)
        }
        try step(6, "convert to qcow2", id, progress) {
            try convertToQcow2(raw, to: work.appendingPathComponent("rootfs.qcow2"))
        }

        let image = try finish(id: id, kernel: kernel, work: work)
        finished = true
        return image
    }

    /// Records `image.json` and renames the work folder to `<state>/images/<id>-<recipe>`.
    private func finish(id: String, kernel: HostKernel, work: URL) throws -> BuiltImage {
        let files = FileManager.default
        try files.removeItem(at: work.appendingPathComponent("rootfs"))
        try files.removeItem(at: work.appendingPathComponent("rootfs.ext4"))
        let rootDisk = work.appendingPathComponent("rootfs.qcow2")
        try files.setAttributes([.posixPermissions: 0o444], ofItemAtPath: rootDisk.path)

        let destination = directory(of: id)
        var image = BuiltImage(
            id: id, kernelVersion: kernel.version, builtAt: Date(),
            kernelSize: try fileSize(work.appendingPathComponent("vmlinux")),
            initramfsSize: try fileSize(work.appendingPathComponent("initramfs.cpio.gz")),
            rootDiskSize: try fileSize(rootDisk), rootDiskVirtualSize: Self.rootDiskBytes,
            directory: work)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(image).write(to: work.appendingPathComponent("image.json"))

        // A folder without image.json is an old incomplete image: replace it.
        if files.fileExists(atPath: destination.path) { try files.removeItem(at: destination) }
        try files.moveItem(at: work, to: destination)
        image.directory = destination
        return image
    }

    private func removeLeftoverBuilds(_ id: String) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: imagesDirectory.path)
        for name in names where name.hasPrefix(".\(id).build-") {
            logger.warning("removing leftover image build", ["image": id, "folder": name])
            try FileManager.default.removeItem(at: imagesDirectory.appendingPathComponent(name))
        }
    }

    /// Runs build step `number` of 6, reporting it and wrapping a failure in `ImageError`.
    private func step(
        _ number: Int, _ name: String, _ id: String, _ progress: @Sendable (String) -> Void,
        _ body: () throws -> Void
    ) throws {
        progress("[\(number)/6] \(name)")
        do {
            try body()
        } catch {
            logger.error(
                "image build step failed", ["image": id, "step": name, "error": "\(error)"])
            throw ImageError.buildFailed(id, step: name, cause: error)
        }
    }

    private func fileSize(_ url: URL) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

/// An exclusive `flock(2)` on a file, held until `unlock`.
struct FileLock {
    let descriptor: Int32

    /// Takes the lock, waiting for another holder; with `wait` false, throws `EWOULDBLOCK` instead.
    init(path: String, wait: Bool = true) throws {
        descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        guard flock(descriptor, wait ? LOCK_EX : LOCK_EX | LOCK_NB) == 0 else {
            let code = POSIXErrorCode(rawValue: errno) ?? .EIO
            close(descriptor)
            throw POSIXError(code)
        }
    }

    func unlock() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
