import Control
import Foundation
import Support

/// Repairs of a particle's files after particled was killed in the middle of a disk operation.
extension QEMUHypervisor {
    public func repairFiles(particleID: String) async throws -> DiskState? {
        let particleFiles = files(particleID)
        return try await onNewThread(name: "particle-repair") { [self] in
            let running = particleFiles.runningPID() != nil
            if !running { removeTemporaryFiles(particleFiles) }
            guard FileManager.default.fileExists(atPath: particleFiles.disk.path) else { return nil }
            return try diskState(particleFiles.disk, inUse: running)
        }
    }

    /// Removes the disk copies of rebuild and duplicate, and the config drive's staging folders,
    /// that a killed particled did not finish.
    private func removeTemporaryFiles(_ particleFiles: ParticleFiles) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: particleFiles.directory.path)) ?? []
        for name in names where name == "disk.qcow2.new" || name.hasPrefix(".config.img.staging-") {
            do {
                try FileManager.default.removeItem(at: particleFiles.directory.appendingPathComponent(name))
                logger.notice("temporary file of an interrupted operation removed", ["path": particleFiles.directory.path + "/" + name])
            } catch {
                logger.warning(
                    "removing a temporary file failed",
                    ["path": particleFiles.directory.path + "/" + name, "error": "\(error)"])
            }
        }
    }

    /// Reads the disk's sizes and snapshot tags with `qemu-img info`.
    ///
    /// A `qemu-img` that particled started before it was killed may still write the disk. Its
    /// write lock makes `info` fail, so this waits up to a minute for it to finish. A running
    /// guest's disk is read with `-U`, which shares the guest's lock.
    private func diskState(_ disk: URL, inUse: Bool) throws -> DiskState {
        let arguments = ["info", "--output=json"] + (inUse ? ["-U"] : []) + [disk.path]
        let deadline = ContinuousClock.now + .seconds(60)
        var attempt = try Command.runAllowingFailure("qemu-img", arguments)
        while attempt.status != 0, attempt.errorOutput.contains("lock"), ContinuousClock.now < deadline {
            logger.notice("waiting for another process to release the disk", ["disk": disk.path])
            Thread.sleep(forTimeInterval: 1)
            attempt = try Command.runAllowingFailure("qemu-img", arguments)
        }
        // Past the deadline this throws the command's error.
        let output = attempt.status == 0 ? attempt.output : try Command.run("qemu-img", arguments).output
        let info = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
        let snapshots = info["snapshots"] as? [[String: Any]] ?? []
        return DiskState(
            virtualBytes: (info["virtual-size"] as? NSNumber)?.uint64Value ?? 0,
            allocatedBytes: (info["actual-size"] as? NSNumber)?.uint64Value ?? 0,
            snapshotIDs: snapshots.compactMap { $0["name"] as? String })
    }
}
