import API
import Control
import Foundation
import Gateway
import HTTPProxy
import Support
import VMM

/// The running daemon: every subsystem of Particle in one process.
struct Daemon {
    let configuration: Configuration
    let logger = Logger(label: "particled")

    /// The daemon's clock: the system's, or for tests that move time (idle schedules), the
    /// system's plus the seconds written in the file that `PARTICLE_CLOCK_OFFSET_FILE` names.
    static func clock() -> @Sendable () -> Date {
        guard let path = ProcessInfo.processInfo.environment["PARTICLE_CLOCK_OFFSET_FILE"] else {
            return { Date() }
        }
        return {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "0"
            let offset = TimeInterval(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            return Date().addingTimeInterval(offset)
        }
    }

    func run() throws {
        Logger.level = LogLevel(name: configuration.logLevel) ?? .info
        try CrashPoint.validateEnvironment()
        // Disks, config drives (with guest host keys), logs and the database are the owner's only.
        umask(0o077)
        let stateDirectory = try prepareStateDirectory()
        let lock = try lockStateDirectory(stateDirectory)
        defer { close(lock) }
        let pool = try AddressPool(cidr: configuration.subnet)
        let imageBuilder = ImageBuilder(stateDirectory: stateDirectory, logger: logger)
        let accelerator = chooseAccelerator(imageBuilder)

        let store = try SQLiteStore(path: stateDirectory.appendingPathComponent("particle.db").path)
        do {
            logger.info(
                try MemoryDirectory.prepare(
                    configuration.idle.memoryDirectory, hugePages: configuration.idle.memoryHugePages))
        } catch {
            throw StartupError(error.message)
        }
        let hypervisor = try QEMUHypervisor(
            configuration: .init(
                stateDirectory: stateDirectory,
                namespace: NetworkNamespace(name: configuration.networkNamespace, pool: pool),
                accelerator: accelerator,
                bootTimeout: .seconds(configuration.bootTimeoutSeconds),
                // A sleep finds QEMU's RAM file by its resolved path in /proc/PID/fd, so a
                // symbolic link or `.` left in memory_dir would hide the file.
                memoryDirectory: URL(fileURLWithPath: configuration.idle.memoryDirectory).resolvingSymlinksInPath(),
                fastCreate: configuration.idle.fastCreate),
            images: imageBuilder, logger: Logger(label: "vmm"))
        let billing = configuration.billing
        let control = Control(
            store: store, hypervisor: hypervisor,
            configuration: .init(
                domain: configuration.domain, addressPool: pool,
                stopDeadline: .seconds(configuration.stopTimeoutSeconds),
                quotas: .init(
                    particles: configuration.quotaParticles, vcpus: configuration.quotaVCPUs,
                    snapshots: configuration.quotaSnapshots),
                billing: try billing.settings(), idle: configuration.idle.settings),
            payments: billing.paymentProvider(), mailer: billing.mailer(domain: configuration.domain),
            clock: Self.clock())
        try blockingAwait { await hypervisor.removeInterruptedTemplateBuilds() }
        try blockingAwait { try await control.reconcile() }
        try blockingAwait { _ = try await control.checkLedger() }
        let usageMeter = UsageMeter(
            control: control, interval: .seconds(billing.usagePostIntervalSeconds), logger: Logger(label: "billing"))

        let api = APIResponder(
            control: control, logger: Logger(label: "api"),
            requestsPerMinute: configuration.apiRequestsPerMinute)
        let apiHost = "api.\(configuration.domain)"
        var httpConfiguration = HTTPServer.Configuration(
            host: configuration.listenAddress, port: configuration.httpPort)
        httpConfiguration.errorResponse = { status, message, head in
            head?.host == apiHost ? APIError.serverErrorResponse(status: status, message: message) : nil
        }
        let http = HTTPServer(
            configuration: httpConfiguration,
            responder: FrontRouter(
                apiHost: apiHost, api: api,
                particles: ParticleRouter(
                    control: control, logger: Logger(label: "proxy"),
                    wakeHold: .seconds(configuration.idle.wakeHoldSeconds))),
            logger: Logger(label: "http"))
        try http.start()
        var apiConfiguration = HTTPServer.Configuration(
            host: configuration.listenAddress, port: configuration.apiPort)
        apiConfiguration.errorResponse = { status, message, _ in
            APIError.serverErrorResponse(status: status, message: message)
        }
        let apiServer = HTTPServer(
            configuration: apiConfiguration,
            responder: api, logger: Logger(label: "api-http"))
        try apiServer.start()

        let gatewayContext = GatewayContext(
            domain: configuration.domain, httpPort: http.port, sshPort: configuration.sshPort)
        var sshConfiguration = SSHServer.Configuration(
            host: configuration.listenAddress, port: configuration.sshPort,
            hostKeyDirectory: stateDirectory.appendingPathComponent("host_keys").path)
        configuration.gateway.apply(to: &sshConfiguration)
        let runner = CommandRunner(
            control: control, gateway: gatewayContext, logger: Logger(label: "gateway"),
            commandsPerMinute: configuration.gateway.commandsPerMinute)
        let ssh = SSHServer(
            configuration: sshConfiguration,
            handler: GatewayHandler(runner: runner, control: control),
            logger: Logger(label: "ssh"))
        try ssh.start()
        runner.setSSHPort(ssh.port)

        let idleScheduler = IdleScheduler(control: control)
        idleScheduler.start()
        // The first start on an image boots its template guest in the background (once per image).
        Task {
            let size = ParticleSize.p1
            await hypervisor.prepareTemplate(
                image: "debian-12", vcpus: size.vcpus, memoryBytes: size.memoryBytes, diskBytes: size.diskBytes)
        }

        announce(
            http: http, api: apiServer, ssh: ssh, stateDirectory: stateDirectory, accelerator: accelerator)
        waitForTermination()
        logger.info("shutting down")
        idleScheduler.stop()
        usageMeter.stop()
        ssh.shutdown()
        apiServer.shutdown()
        http.shutdown()
    }

    private func prepareStateDirectory() throws -> URL {
        let url = URL(fileURLWithPath: configuration.stateDirectory).standardizedFileURL
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw StartupError("cannot create state directory \(url.path): \(error.localizedDescription)")
        }
        guard access(url.path, W_OK) == 0 else {
            throw StartupError("state directory \(url.path) is not writable; run particled as root or choose --state-dir")
        }
        return url
    }

    /// Takes an exclusive lock on `<state>/particled.lock` for the life of the process, so a
    /// second particled cannot adopt or change this one's particles.
    private func lockStateDirectory(_ directory: URL) throws -> Int32 {
        let path = directory.appendingPathComponent("particled.lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StartupError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let owner = (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            close(fd)
            throw StartupError(
                "another particled (pid \(owner)) uses state directory \(directory.path); stop it or"
                    + " choose another --state-dir")
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return fd
    }

    private func chooseAccelerator(_ images: ImageBuilder) -> Accelerator {
        switch configuration.accelerator {
        case "kvm": return .kvm
        case "tcg": return .tcg
        default:
            guard let image = images.cached("debian-12") ?? ImageBuilder.catalog.lazy.compactMap({ images.cached($0.id) }).first else {
                logger.warning("no image built yet; using TCG without a probe", [:])
                return .tcg
            }
            return Accelerator.probe(
                kernel: image.kernel, initramfs: image.initramfs, deadline: .seconds(5), logger: logger)
        }
    }

    private func announce(
        http: HTTPServer, api: HTTPServer, ssh: SSHServer, stateDirectory: URL, accelerator: Accelerator
    ) {
        let host = configuration.listenAddress
        logger.info("listening", ["service": "ssh", "address": "\(host):\(ssh.port)"])
        logger.info("listening", ["service": "http", "address": "\(host):\(http.port)"])
        logger.info("listening", ["service": "api", "address": "\(host):\(api.port)"])
        for fingerprint in ssh.hostKeyFingerprints {
            logger.info("host key", ["fingerprint": fingerprint])
        }
        let portSuffix = http.port == 80 ? "" : ":\(http.port)"
        printNow(
            """
            particled is running (state \(stateDirectory.path), accelerator \(accelerator.rawValue)).
              SSH gateway   ssh -p \(ssh.port) localhost help
              create        ssh -p \(ssh.port) localhost create web
              HTTP proxy    http://<name>-<port>-<account>.\(configuration.domain)\(portSuffix)/
              REST API      http://api.\(configuration.domain)\(portSuffix)/v1/ and http://\(host):\(api.port)/v1/
              account id    ssh -p \(ssh.port) localhost whoami
            Stop with Ctrl-C.
            """)
    }

    private func waitForTermination() {
        let done = DispatchSemaphore(value: 0)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { done.signal() }
            source.resume()
            return source
        }
        done.wait()
        sources.forEach { $0.cancel() }
    }
}

/// Builds an image from the command line, printing progress.
func buildImage(_ id: String, configuration: Configuration) throws {
    let stateDirectory = URL(fileURLWithPath: configuration.stateDirectory).standardizedFileURL
    try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
    let builder = ImageBuilder(stateDirectory: stateDirectory, logger: Logger(label: "image"))
    if let cached = builder.cached(id) {
        printNow("image \(id) is already built (\(cached.directory.path))")
        return
    }
    let image = try builder.build(id) { line in printNow(line) }
    printNow("image \(id) built in \(image.directory.path)")
}

/// Writes a line to standard output at once, so that progress shows up even through a pipe.
func printNow(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
