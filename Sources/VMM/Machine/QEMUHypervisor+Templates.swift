import Control
import Foundation
import Support

/// Fast create: a guest of each image is booted once, left to settle and saved like a sleeping
/// particle into `<image>/templates/<vcpus>x<MiB>/`. `create` of a particle of that shape then
/// copies the template's disk overlay, resumes the saved guest on it and has the guest agent
/// apply the new particle's identity from its config drive (name, machine id, MAC, address,
/// SSH host key, account keys), with the clock set and entropy refreshed, instead of booting.
/// A cold boot stays the fallback whenever there is no template or restoring one fails.
///
/// The template lives beside the image it is an overlay of, so a changed guest recipe (a new
/// image folder) gets a new template, and several `particled`s that share an image cache share
/// its templates. A file lock keeps two of them from building one at once.
extension QEMUHypervisor {
    /// What a template's saved files refer to, so that a restore can point them at the new
    /// particle: its folder, RAM file, tap and MAC at the time it was saved.
    struct TemplateOrigin: Codable {
        var directory: String
        var ramFile: String
        var tap: String
        var mac: String
        var diskBytes: UInt64
    }

    func templateDirectory(_ image: BuiltImage, vcpus: Int, memoryBytes: UInt64) -> URL {
        image.directory.appendingPathComponent("templates/\(vcpus)x\(memoryBytes >> 20)M")
    }

    /// The template for `spec`'s image and shape, if one is complete. A broken one is
    /// reported and replaced in the background (`replaceBrokenTemplate`).
    private func readyTemplate(_ spec: MachineSpec, image: BuiltImage) -> (URL, TemplateOrigin)? {
        let directory = templateDirectory(image, vcpus: spec.vcpus, memoryBytes: spec.memoryBytes)
        do {
            guard let origin = try Self.loadTemplate(at: directory), origin.diskBytes <= spec.diskBytes else {
                return nil
            }
            return (directory, origin)
        } catch {
            replaceBrokenTemplate(directory, error, for: spec)
            return nil
        }
    }

    /// Makes the particle by resuming its image's template; returns false when there is none.
    /// On failure nothing of the particle is left, so the caller can boot it cold instead.
    func createFromTemplate(_ spec: MachineSpec, image: BuiltImage) async -> Bool {
        guard configuration.fastCreate, let (template, origin) = readyTemplate(spec, image: image) else { return false }
        let particleFiles = files(spec.particleID)
        let fields = ["particle": spec.particleID, "template": template.lastPathComponent]
        let started = ContinuousClock.now
        do {
            try await onNewThread(name: "particle-create") { [self] in
                try restoreTemplate(spec, image: image, template: template, origin: origin, files: particleFiles)
            }
            CrashPoint.reach(.createTemplateResumed)
            try await waitUntilBooted(spec)
            serialLog(for: spec.particleID).append(
                Array("particle: made from the image's template (\(template.lastPathComponent)), not booted\r\n".utf8))
            logger.info(
                "guest made from its template",
                fields.merging(["ms": "\((ContinuousClock.now - started).milliseconds)"]) { a, _ in a })
            return true
        } catch {
            let cause = (error as? ControlError)?.cause.map { ": \($0)" } ?? ""
            logger.warning("fast create failed; booting cold", fields.merging(["error": "\(error)\(cause)"]) { a, _ in a })
            try? await powerOff(spec.particleID, tap: spec.tapName)
            try? FileManager.default.removeItem(at: particleFiles.directory)
            try? FileManager.default.removeItem(at: particleFiles.ramFile)
            return false
        }
    }

    private func restoreTemplate(
        _ spec: MachineSpec, image: BuiltImage, template: URL, origin: TemplateOrigin, files: ParticleFiles
    ) throws {
        let manager = FileManager.default
        try manager.createDirectory(at: files.directory, withIntermediateDirectories: true)
        // Until the agent confirms the identity, a restart must apply it (see `recover`). The
        // marker comes before QEMU starts, because from then on a crash can leave a guest that
        // `recover` resumes, and without its identity that guest keeps the template's address.
        _ = manager.createFile(atPath: files.identityPending.path, contents: nil)
        try manager.copyItem(at: template.appendingPathComponent("disk.qcow2"), to: files.disk)
        // The template's overlay names the base by the path its builder saw; this one may differ.
        try Command.run(
            "qemu-img", ["rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", image.rootDisk.path, files.disk.path])
        if spec.diskBytes > origin.diskBytes {
            try Command.run("qemu-img", ["resize", "-q", "-f", "qcow2", files.disk.path, String(spec.diskBytes)])
        }
        try Command.run(
            "ssh-keygen",
            ["-q", "-t", "ed25519", "-N", "", "-C", "root@\(spec.hostname)", "-f", files.hostKey.path])
        try writeConfigDrive(spec, files: files)

        let mac = Self.macAddress(for: spec.address)
        let data = try Data(contentsOf: template.appendingPathComponent("qemu.argv"))
        guard let saved = try JSONSerialization.jsonObject(with: data) as? [String] else {
            throw QMPError("the template's qemu.argv is not a JSON array of strings")
        }
        var argv = saved.map { word in
            word.replacingOccurrences(of: origin.directory, with: files.directory.path)
                .replacingOccurrences(of: origin.ramFile, with: files.ramFile.path)
                .replacingOccurrences(of: "ifname=\(origin.tap),", with: "ifname=\(spec.tapName),")
                .replacingOccurrences(of: "mac=\(origin.mac)", with: "mac=\(mac)")
        }
        // The builder reached the image through its own state folder, which may be gone.
        for (option, path) in [("-kernel", image.kernel.path), ("-initrd", image.initramfs.path)] {
            if let index = argv.firstIndex(of: option), index + 1 < argv.count { argv[index + 1] = path }
        }
        try JSONSerialization.data(withJSONObject: argv).write(to: files.launchArguments, options: .atomic)

        try manager.createDirectory(
            at: configuration.memoryDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let ram = open(template.appendingPathComponent("memory.ram").path, O_RDONLY | O_CLOEXEC)
        guard ram >= 0 else { throw QMPError("the template has no memory.ram") }
        defer { close(ram) }
        try SparseCopy.copy(from: ram, to: files.ramFile)

        try configuration.namespace.addTap(spec.tapName, address: spec.address, mac: mac)
        let monitor = try startQEMU(
            argv + ["-incoming", "defer"], tap: spec.tapName, particleID: spec.particleID, files: files)
        try monitor.execute(
            "migrate-set-capabilities", ["capabilities": [["capability": "x-ignore-shared", "state": true]]])
        let state = template.appendingPathComponent("memory.state").path
        try monitor.execute("migrate-incoming", ["uri": "exec:cat \(Self.shellQuoted(state))"])
        try waitForIncoming(monitor, deadline: .seconds(120))
        CrashPoint.reach(.createTemplateLoaded)
        try monitor.execute("cont")
        try applyPendingIdentity(files)
    }

    /// Gives a guest resumed from another guest's memory this particle's clock, entropy and
    /// identity, then removes the `identity.pending` marker.
    func applyPendingIdentity(_ files: ParticleFiles) throws {
        let agent = try GuestAgent(path: files.agentSocket.path)
        try agent.setClock()
        try agent.refreshEntropy()
        try agent.applyIdentity()
        try FileManager.default.removeItem(at: files.identityPending)
    }

    /// Builds the template for particles of this image and shape unless it exists or another
    /// process builds it: a cold boot at the reserved template address, a wait until the
    /// guest's boot jobs are done, then a save like a sleep.
    public func prepareTemplate(image imageID: String, vcpus: Int, memoryBytes: UInt64, diskBytes: UInt64) async {
        guard configuration.fastCreate, let image = imageBuilder.cached(imageID) else { return }
        let directory = templateDirectory(image, vcpus: vcpus, memoryBytes: memoryBytes)
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("template.json").path) { return }
        let parent = directory.deletingLastPathComponent()
        let lock: FileLock
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
            lock = try FileLock(path: parent.appendingPathComponent(".\(directory.lastPathComponent).lock").path, wait: false)
        } catch {
            return  // Another process builds it.
        }
        defer { lock.unlock() }
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("template.json").path) { return }

        // Hex like a particle id, since the machine id is derived from it.
        let id = String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased())
        let spec = MachineSpec(
            particleID: id, hostname: "particle", image: imageID, vcpus: vcpus, memoryBytes: memoryBytes,
            diskBytes: diskBytes, address: configuration.namespace.pool.templateAddress,
            tapName: Particle.tapName(id: id), authorizedKeys: [])
        let fields = ["image": imageID, "template": directory.lastPathComponent]
        let started = ContinuousClock.now
        do {
            try MemoryDirectory.requireRoom(configuration.memoryDirectory.path, memoryBytes: memoryBytes)
        } catch {
            logger.warning("not building a template; creates boot cold", fields.merging(["error": "\(error)"]) { a, _ in a })
            return
        }
        logger.info("building a template for fast create", fields)
        defer {
            Task { try? await destroy(particleID: id) }
        }
        do {
            let buildFiles = files(id)
            try FileManager.default.createDirectory(at: buildFiles.directory, withIntermediateDirectories: true)
            try Data(directory.path.utf8).write(to: buildFiles.templateBuild)
            try await coldCreate(spec, image: image)
            // Let the boot's own jobs (file system growth, units after the ready marker) finish.
            _ = try await exec(spec, command: "systemctl is-system-running --wait >/dev/null; sync", onOutput: nil)
            _ = try await sleep(particleID: id)
            try await onNewThread(name: "particle-template") { [self] in
                try saveTemplate(spec, files: files(id), to: directory)
            }
            logger.info(
                "template ready",
                fields.merging(["ms": "\((ContinuousClock.now - started).milliseconds)"]) { a, _ in a })
        } catch {
            logger.warning("building a template failed; creates boot cold", fields.merging(["error": "\(error)"]) { a, _ in a })
        }
    }

    /// Removes what template builds that were cut short (particled killed while one ran) left
    /// behind: the guest's QEMU, tap, RAM file and folder, and the template's half-written
    /// folder. Call it at start, before `prepareTemplate`. Every template build found in this
    /// state folder is an orphan then, because the state folder's lock keeps out any other
    /// particled that could own it.
    public func removeInterruptedTemplateBuilds() async {
        let particles = configuration.stateDirectory.appendingPathComponent("particles")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: particles.path)) ?? []
        let templateMAC = Self.macAddress(for: configuration.namespace.pool.templateAddress)
        for id in names {
            let buildFiles = files(id)
            let marked = FileManager.default.fileExists(atPath: buildFiles.templateBuild.path)
            // A build by a version without the marker is known by the template's MAC address in
            // its QEMU arguments, which no particle's guest has.
            let argv = (try? String(contentsOf: buildFiles.launchArguments, encoding: .utf8)) ?? ""
            guard marked || argv.contains("mac=\(templateMAC)") else { continue }
            let fields = ["build": id, "qemu_pid": buildFiles.runningPID().map { String($0) } ?? "none"]
            do {
                try await powerOff(id, tap: Particle.tapName(id: id))
                try? FileManager.default.removeItem(at: buildFiles.ramFile)
                try FileManager.default.removeItem(at: buildFiles.directory)
                serialLogs.withLock { $0[id] = nil }
                logger.notice("interrupted template build removed", fields)
            } catch {
                logger.warning(
                    "removing an interrupted template build failed", fields.merging(["error": "\(error)"]) { a, _ in a })
            }
        }
        for definition in ImageBuilder.catalog {
            guard let image = imageBuilder.cached(definition.id) else { continue }
            removeHalfWrittenTemplates(in: image.directory.appendingPathComponent("templates"))
        }
    }

    /// Removes the `.<shape>.build-<pid>` folders that `saveTemplate` had not renamed into
    /// place, for each shape whose lock is free: a held lock means another process builds it.
    private func removeHalfWrittenTemplates(in templates: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: templates.path)) ?? []
        for name in names where name.hasPrefix(".") && name.contains(".build-") {
            let shape = String(name.dropFirst().prefix { $0 != "." })
            guard let lock = try? FileLock(path: templates.appendingPathComponent(".\(shape).lock").path, wait: false)
            else { continue }
            defer { lock.unlock() }
            do {
                try FileManager.default.removeItem(at: templates.appendingPathComponent(name))
                logger.notice("half-written template removed", ["folder": templates.appendingPathComponent(name).path])
            } catch {
                logger.warning(
                    "removing a half-written template failed", ["folder": name, "error": "\(error)"])
            }
        }
    }

    private func saveTemplate(_ spec: MachineSpec, files: ParticleFiles, to directory: URL) throws {
        let manager = FileManager.default
        let work = directory.deletingLastPathComponent()
            .appendingPathComponent(".\(directory.lastPathComponent).build-\(getpid())")
        try? manager.removeItem(at: work)
        try manager.createDirectory(at: work, withIntermediateDirectories: true)
        for (from, name) in [
            (files.disk, "disk.qcow2"), (files.memoryState, "memory.state"), (files.savedRAM, "memory.ram"),
            (files.launchArguments, "qemu.argv"),
        ] {
            try manager.moveItem(at: from, to: work.appendingPathComponent(name))
        }
        let origin = TemplateOrigin(
            directory: files.directory.path, ramFile: files.ramFile.path, tap: spec.tapName,
            mac: Self.macAddress(for: spec.address), diskBytes: spec.diskBytes)
        try JSONEncoder().encode(origin).write(to: work.appendingPathComponent("template.json"))
        try manager.moveItem(at: work, to: directory)
    }
}
