import Foundation
import Support

/// A guest image that the image builder can make, as listed by the `images` command.
public struct ImageDefinition: Sendable, Equatable {
    /// Identifier used in the API and in `<state>/images/<id>-<recipe>/`, for example `debian-12`.
    public var id: String
    /// Name shown to users, for example "Debian 12 (Bookworm)".
    public var displayName: String
    /// Debian suite passed to mmdebstrap.
    public var suite: String
    /// Whether this machine has the tools and the kernel to build the image.
    public var available: Bool
    /// Reason the image cannot be built here, or nil when `available` is true.
    public var unavailableReason: String?

    public init(
        id: String, displayName: String, suite: String, available: Bool,
        unavailableReason: String? = nil
    ) {
        self.id = id
        self.displayName = displayName
        self.suite = suite
        self.available = available
        self.unavailableReason = unavailableReason
    }
}

/// A finished guest image in `<state>/images/<id>-<recipe>/`.
///
/// `rootDisk` is a read-only qcow2 base: each particle's disk is an overlay whose backing file
/// it is, so the base must never change while an overlay refers to it.
public struct BuiltImage: Sendable, Equatable, Codable {
    /// Image identifier, for example `debian-12`.
    public var id: String
    /// Kernel release of the guest kernel and of the modules in the image (`uname -r`).
    public var kernelVersion: String
    /// When the build finished.
    public var builtAt: Date
    /// Size in bytes of `vmlinux`.
    public var kernelSize: Int
    /// Size in bytes of `initramfs.cpio.gz`.
    public var initramfsSize: Int
    /// Size in bytes of the `rootfs.qcow2` file (allocated clusters, not the virtual size).
    public var rootDiskSize: Int
    /// Virtual size in bytes of the root disk; overlays must be at least this large.
    public var rootDiskVirtualSize: Int
    /// Folder that contains the image files; not stored in `image.json`.
    public var directory: URL

    /// The uncompressed kernel, booted directly through its PVH entry point.
    public var kernel: URL { directory.appendingPathComponent("vmlinux") }
    /// The busybox initramfs that mounts `/dev/vda` and starts systemd.
    public var initramfs: URL { directory.appendingPathComponent("initramfs.cpio.gz") }
    /// The read-only qcow2 base of every particle disk.
    public var rootDisk: URL { directory.appendingPathComponent("rootfs.qcow2") }

    enum CodingKeys: String, CodingKey {
        case id
        case kernelVersion = "kernel_version"
        case builtAt = "built_at"
        case kernelSize = "kernel_size"
        case initramfsSize = "initramfs_size"
        case rootDiskSize = "rootfs_size"
        case rootDiskVirtualSize = "rootfs_virtual_size"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        kernelVersion = try container.decode(String.self, forKey: .kernelVersion)
        builtAt = try container.decode(Date.self, forKey: .builtAt)
        kernelSize = try container.decode(Int.self, forKey: .kernelSize)
        initramfsSize = try container.decode(Int.self, forKey: .initramfsSize)
        rootDiskSize = try container.decode(Int.self, forKey: .rootDiskSize)
        rootDiskVirtualSize = try container.decode(Int.self, forKey: .rootDiskVirtualSize)
        directory = decoder.userInfo[BuiltImage.directoryKey] as? URL ?? URL(fileURLWithPath: "/")
    }

    init(
        id: String, kernelVersion: String, builtAt: Date, kernelSize: Int, initramfsSize: Int,
        rootDiskSize: Int, rootDiskVirtualSize: Int, directory: URL
    ) {
        self.id = id
        self.kernelVersion = kernelVersion
        self.builtAt = builtAt
        self.kernelSize = kernelSize
        self.initramfsSize = initramfsSize
        self.rootDiskSize = rootDiskSize
        self.rootDiskVirtualSize = rootDiskVirtualSize
        self.directory = directory
    }

    static let directoryKey = CodingUserInfoKey(rawValue: "particle.image.directory")!
}

/// A failed image build or lookup; the description is safe to show a user.
public struct ImageError: Error, CustomStringConvertible, Sendable {
    /// Kind of failure.
    public enum Code: String, Sendable {
        case unknownImage = "unknown_image"
        case unavailable
        case missingTool = "missing_tool"
        case kernelNotFound = "kernel_not_found"
        case buildFailed = "build_failed"
    }

    public var code: Code
    public var message: String
    /// The image involved.
    public var imageID: String
    /// The underlying error (a failed command, an I/O error), if any.
    public var cause: (any Error)?

    public var description: String {
        var text = "image '\(imageID)': \(message)"
        if let cause { text += " (cause: \(cause))" }
        return text
    }

    static func unknownImage(_ id: String) -> ImageError {
        let known = ImageBuilder.catalog.map(\.id).joined(separator: ", ")
        return ImageError(
            code: .unknownImage, message: "no such image; known images: \(known)", imageID: id)
    }

    static func unavailable(_ id: String, reason: String) -> ImageError {
        ImageError(code: .unavailable, message: "cannot be built here: \(reason)", imageID: id)
    }

    static func kernelNotFound(_ id: String, detail: String) -> ImageError {
        ImageError(
            code: .kernelNotFound,
            message: "\(detail); install linux-image-cloud-amd64 on the host", imageID: id)
    }

    static func buildFailed(
        _ id: String, step: String, cause: (any Error)? = nil
    ) -> ImageError {
        ImageError(
            code: .buildFailed, message: "build failed at step '\(step)'", imageID: id,
            cause: cause)
    }
}

extension ImageDefinition {
    /// Programs an image build runs, with the Debian package that provides each.
    static let buildTools = [
        ("mmdebstrap", "mmdebstrap"), ("lz4", "lz4"), ("mkfs.ext4", "e2fsprogs"),
        ("qemu-img", "qemu-utils"), ("cpio", "cpio"), ("gzip", "gzip"), ("mknod", "coreutils"),
        ("perl", "perl-base"),
    ]

    /// Returns a definition whose `available` field reports whether this machine can build it.
    ///
    /// Checks only local requirements: root (mmdebstrap's root mode keeps file ownership in a
    /// directory tree), the tools, busybox-static and a Debian cloud kernel. Whether the archive
    /// is reachable shows only when a build runs.
    static func checked(id: String, displayName: String, suite: String) -> ImageDefinition {
        var reasons: [String] = []
        if geteuid() != 0 { reasons.append("building images needs root") }
        for (tool, package) in buildTools where (try? Command.resolve(tool)) == nil {
            reasons.append("\(tool) is missing (install \(package))")
        }
        if !FileManager.default.isExecutableFile(atPath: ImageBuilder.busybox) {
            reasons.append("\(ImageBuilder.busybox) is missing (install busybox-static)")
        }
        if HostKernel.find() == nil {
            reasons.append("no Debian cloud kernel (install linux-image-cloud-amd64)")
        }
        return ImageDefinition(
            id: id, displayName: displayName, suite: suite, available: reasons.isEmpty,
            unavailableReason: reasons.isEmpty ? nil : reasons.joined(separator: "; "))
    }
}
