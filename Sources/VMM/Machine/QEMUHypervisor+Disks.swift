import Control
import Foundation
import Support

extension QEMUHypervisor {
    public func growDisk(particleID: String, diskBytes: UInt64) async throws {
        let particleFiles = files(particleID)
        try requireStopped(particleFiles)
        try await onNewThread(name: "particle-disk") {
            try Command.run("qemu-img", ["resize", "-q", "-f", "qcow2", particleFiles.disk.path, String(diskBytes)])
        }
    }

    public func rebuild(_ spec: MachineSpec) async throws {
        guard let image = imageBuilder.cached(spec.image) else {
            throw ControlError.unavailable(
                "image '\(spec.image)' is not built; run `particled build-image \(spec.image)`")
        }
        let particleFiles = files(spec.particleID)
        try requireStopped(particleFiles)
        try await onNewThread(name: "particle-disk") { [self] in
            // Build the new disk beside the old one and rename it over, so a failure keeps the old.
            let fresh = particleFiles.directory.appendingPathComponent("disk.qcow2.new")
            try? FileManager.default.removeItem(at: fresh)
            try Command.run(
                "qemu-img",
                ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image.rootDisk.path, fresh.path, String(spec.diskBytes)])
            try replace(particleFiles.disk, with: fresh)
            CrashPoint.reach(.rebuildReplaced)
            try writeConfigDrive(spec, files: particleFiles)
        }
    }

    public func duplicate(from sourceID: String, to spec: MachineSpec, withMemory: Bool) async throws {
        guard let image = imageBuilder.cached(spec.image) else {
            throw ControlError.unavailable(
                "image '\(spec.image)' is not built; run `particled build-image \(spec.image)`")
        }
        let source = files(sourceID)
        try requireStopped(source)
        let target = files(spec.particleID)
        try await onNewThread(name: "particle-disk") { [self] in
            try FileManager.default.createDirectory(at: target.directory, withIntermediateDirectories: true)
            // Only the source's own data above the base image is copied, without its snapshots.
            let copy = target.directory.appendingPathComponent("disk.qcow2.new")
            try Command.run(
                "qemu-img",
                [
                    "convert", "-f", "qcow2", "-O", "qcow2", "-F", "qcow2", "-B", image.rootDisk.path,
                    source.disk.path, copy.path,
                ])
            CrashPoint.reach(.duplicateCopied)
            try replace(target.disk, with: copy)
            try Command.run(
                "ssh-keygen",
                ["-q", "-t", "ed25519", "-N", "", "-C", "root@\(spec.hostname)", "-f", target.hostKey.path])
            try writeConfigDrive(spec, files: target)
            if withMemory {
                try copyMemory(from: source, sourceTap: Particle.tapName(id: sourceID), to: target, spec: spec)
            }
        }
    }

    /// Copies a sleeping particle's saved memory to `target`, with its QEMU arguments pointed at
    /// the target's files, tap and MAC; the target's first wake then applies its identity.
    private func copyMemory(from source: ParticleFiles, sourceTap: String, to target: ParticleFiles, spec: MachineSpec) throws {
        guard source.hasMemoryState else {
            throw ControlError.invalidState("the source particle has no saved memory; it must sleep")
        }
        let data = try Data(contentsOf: source.launchArguments)
        guard let saved = try JSONSerialization.jsonObject(with: data) as? [String] else {
            throw ControlError.internal("the source's qemu.argv is unreadable", detail: "not a JSON array of strings")
        }
        let sourceMAC = saved.lazy.compactMap { word in
            word.hasPrefix("virtio-net-device,") ? word.split(separator: ",").first { $0.hasPrefix("mac=") } : nil
        }.first.map { String($0.dropFirst(4)) }
        let mac = Self.macAddress(for: spec.address)
        let argv = saved.map { word in
            var word = word.replacingOccurrences(of: source.directory.path, with: target.directory.path)
                .replacingOccurrences(of: source.ramFile.path, with: target.ramFile.path)
                .replacingOccurrences(of: "ifname=\(sourceTap),", with: "ifname=\(spec.tapName),")
            if let sourceMAC { word = word.replacingOccurrences(of: "mac=\(sourceMAC)", with: "mac=\(mac)") }
            return word
        }
        try JSONSerialization.data(withJSONObject: argv).write(to: target.launchArguments, options: .atomic)
        if FileManager.default.fileExists(atPath: source.savedRAM.path) {
            let ram = open(source.savedRAM.path, O_RDONLY | O_CLOEXEC)
            guard ram >= 0 else {
                throw ControlError.internal("opening the saved RAM failed", detail: String(cString: strerror(errno)))
            }
            defer { close(ram) }
            try SparseCopy.copy(from: ram, to: target.savedRAM)
        }
        _ = FileManager.default.createFile(atPath: target.identityPending.path, contents: nil)
        // The device state goes last: its presence marks the copy's saved memory complete.
        let partial = target.memoryStatePartial
        try? FileManager.default.removeItem(at: partial)
        try FileManager.default.copyItem(at: source.memoryState, to: partial)
        guard rename(partial.path, target.memoryState.path) == 0 else {
            throw ControlError.internal("saving the copied memory failed", detail: String(cString: strerror(errno)))
        }
    }

    public func createSnapshot(particleID: String, snapshotID: String) async throws -> UInt64 {
        let particleFiles = files(particleID)
        return try await onNewThread(name: "particle-snapshot") {
            if particleFiles.runningPID() != nil {
                // Pause the guest for the instant the snapshot takes, so the disk is consistent.
                let monitor = try QMPClient(path: particleFiles.qmpSocket.path)
                try monitor.execute("stop")
                defer { _ = try? monitor.execute("cont") }
                CrashPoint.reach(.snapshotCreatePaused)
                try monitor.execute("blockdev-snapshot-internal-sync", ["device": "root", "name": snapshotID])
            } else {
                try Command.run("qemu-img", ["snapshot", "-c", snapshotID, particleFiles.disk.path])
            }
            return try Self.allocatedBytes(particleFiles.disk)
        }
    }

    public func restoreSnapshot(particleID: String, snapshotID: String) async throws {
        let particleFiles = files(particleID)
        try requireStopped(particleFiles)
        try await onNewThread(name: "particle-snapshot") {
            try Command.run("qemu-img", ["snapshot", "-a", snapshotID, particleFiles.disk.path])
        }
    }

    public func deleteSnapshot(particleID: String, snapshotID: String) async throws {
        let particleFiles = files(particleID)
        try await onNewThread(name: "particle-snapshot") {
            if particleFiles.runningPID() != nil {
                let monitor = try QMPClient(path: particleFiles.qmpSocket.path)
                try monitor.execute(
                    "blockdev-snapshot-delete-internal-sync", ["device": "root", "name": snapshotID])
            } else {
                try Command.run("qemu-img", ["snapshot", "-d", snapshotID, particleFiles.disk.path])
            }
        }
    }

    private func requireStopped(_ particleFiles: ParticleFiles) throws {
        if let pid = particleFiles.runningPID() {
            throw ControlError.invalidState("the particle's guest still runs (QEMU pid \(pid)); stop it first")
        }
    }

    private func replace(_ destination: URL, with source: URL) throws {
        guard rename(source.path, destination.path) == 0 else {
            throw ControlError.internal(
                "replacing the disk failed", detail: String(cString: strerror(errno)))
        }
    }

    /// Returns the bytes a qcow2 file occupies on the host, read with `qemu-img info` (allowed while
    /// QEMU has the file open).
    static func allocatedBytes(_ disk: URL) throws -> UInt64 {
        let output = try Command.run("qemu-img", ["info", "-U", "--output=json", disk.path]).output
        let info = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        return (info?["actual-size"] as? NSNumber)?.uint64Value ?? 0
    }
}
