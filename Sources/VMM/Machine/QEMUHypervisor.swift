import Control
import Foundation
import Support

/// Runs each particle as one QEMU process in Particle's network namespace.
///
/// QEMU is started with `-daemonize`, so it outlives a crash or restart of `particled` and is
/// found again through its PID file. The guest's disk is a qcow2 overlay on the image's
/// read-only base; its settings reach it on a small config drive.
public final class QEMUHypervisor: Hypervisor {
    /// Settings of the VMM.
    public struct Configuration: Sendable {
        public var stateDirectory: URL
        public var namespace: NetworkNamespace
        public var accelerator: Accelerator
        /// How long a guest may take from QEMU's start until its sshd accepts.
        public var bootTimeout: Duration
        public var qemuBinary: String
        /// A tmpfs folder where each running guest's RAM file is made. QEMU maps the file shared
        /// and the VMM unlinks it at once, so the memory is never on a disk and is freed however
        /// QEMU exits; a sleep reaches it through QEMU's open descriptor.
        public var memoryDirectory: URL
        /// Whether `create` resumes a saved template guest instead of booting (a cold boot stays
        /// the fallback).
        public var fastCreate: Bool

        public init(
            stateDirectory: URL, namespace: NetworkNamespace, accelerator: Accelerator,
            bootTimeout: Duration = .seconds(180), qemuBinary: String = "qemu-system-x86_64",
            memoryDirectory: URL = URL(fileURLWithPath: "/dev/shm/particle"), fastCreate: Bool = true
        ) {
            self.fastCreate = fastCreate
            self.stateDirectory = stateDirectory
            self.namespace = namespace
            self.accelerator = accelerator
            self.bootTimeout = bootTimeout
            self.qemuBinary = qemuBinary
            self.memoryDirectory = memoryDirectory
        }
    }

    let configuration: Configuration
    let sockets: NamespaceSockets
    let imageBuilder: ImageBuilder
    let platformKey: PlatformKey
    let logger: Logger
    /// Serial logs of the particles whose console this process reads.
    let serialLogs = Locked<[String: SerialLog]>([:])
    /// The exit status of each particle's last QEMU.
    let exits = ProcessExitWatcher()
    /// Duplicates of the sockets of `exec` commands that run, by particle, so that the end of
    /// the guest can shut them down (see `endCommands`).
    let execSockets = Locked<[String: Set<Int32>]>([:])
    /// The template folders found broken and not yet removed, each reported once.
    let reportedBrokenTemplates = Locked<Set<String>>([])

    public init(configuration: Configuration, images: ImageBuilder, logger: Logger) throws {
        self.configuration = configuration
        self.imageBuilder = images
        self.logger = logger
        try configuration.namespace.setUp()
        sockets = try NamespaceSockets(namespacePath: configuration.namespace.path)
        platformKey = try PlatformKey.loadOrCreate(in: configuration.stateDirectory)
        if let reason = exits.unavailableReason {
            logger.notice("QEMU exit statuses are not available, so a guest that ends unexpectedly is logged without one", ["error": reason])
        }
    }

    func files(_ particleID: String) -> ParticleFiles {
        ParticleFiles(
            stateDirectory: configuration.stateDirectory, memoryDirectory: configuration.memoryDirectory,
            particleID: particleID)
    }

    public func images() async -> [ImageInfo] {
        ImageBuilder.catalog.map { definition in
            let built = imageBuilder.cached(definition.id) != nil
            let reason =
                definition.available
                ? "not built yet; run `particled build-image \(definition.id)`"
                : definition.unavailableReason
            return ImageInfo(
                id: definition.id, displayName: definition.displayName,
                isDefault: definition.id == ImageBuilder.catalog.first?.id,
                available: definition.available && built, reason: built ? nil : reason)
        }
    }

    public func isRunning(particleID: String) async -> Bool {
        files(particleID).runningPID() != nil
    }

    public func connect(address: String, port: Int) async throws -> Int32 {
        guard (1...65535).contains(port) else {
            throw ControlError.invalidArgument("invalid port \(port); use 1-65535")
        }
        return try await sockets.connect(address: address, port: port)
    }

    public func serialLog(particleID: String, offset: Int) async throws -> (bytes: [UInt8], next: Int) {
        serialLog(for: particleID).read(from: offset)
    }

    func serialLog(for particleID: String) -> SerialLog {
        serialLogs.withLock { logs in
            if let log = logs[particleID] { return log }
            let log = SerialLog(directory: files(particleID).directory)
            logs[particleID] = log
            return log
        }
    }
}
