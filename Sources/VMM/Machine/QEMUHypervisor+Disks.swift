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

    public func duplicate(from sourceID: String, to spec: MachineSpec) async throws {
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
