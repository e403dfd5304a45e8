import Control
import Foundation
import Support

extension QEMUHypervisor {
    /// Makes the particle from its image's template when there is one (`createFromTemplate`),
    /// else by a cold boot.
    public func create(_ spec: MachineSpec) async throws {
        guard let image = imageBuilder.cached(spec.image) else {
            throw ControlError.unavailable(
                "image '\(spec.image)' is not built; run `particled build-image \(spec.image)`")
        }
        if await createFromTemplate(spec, image: image) { return }
        try await coldCreate(spec, image: image)
    }

    func coldCreate(_ spec: MachineSpec, image: BuiltImage) async throws {
        let particleFiles = files(spec.particleID)
        try await onNewThread(name: "particle-create") { [self] in
            do {
                try makeFiles(spec, image: image, files: particleFiles)
            } catch {
                // Leave nothing half-made: a particle without its files cannot boot anyway.
                try? FileManager.default.removeItem(at: particleFiles.directory)
                throw error
            }
        }
        try await boot(spec, image: image)
    }

    public func start(_ spec: MachineSpec) async throws {
        guard let image = imageBuilder.cached(spec.image) else {
            throw ControlError.unavailable(
                "image '\(spec.image)' is not built; run `particled build-image \(spec.image)`")
        }
        try await onNewThread(name: "particle-config") { [self] in
            try writeConfigDrive(spec, files: files(spec.particleID))
        }
        try await boot(spec, image: image)
    }

    /// Makes the overlay disk, the guest's host key and its config drive.
    private func makeFiles(_ spec: MachineSpec, image: BuiltImage, files: ParticleFiles) throws {
        try FileManager.default.createDirectory(at: files.directory, withIntermediateDirectories: true)
        try Command.run(
            "qemu-img",
            [
                "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image.rootDisk.path,
                files.disk.path, String(spec.diskBytes),
            ])
        try Command.run(
            "ssh-keygen",
            ["-q", "-t", "ed25519", "-N", "", "-C", "root@\(spec.hostname)", "-f", files.hostKey.path])
        try writeConfigDrive(spec, files: files)
    }

    /// Writes the config drive from the current settings, so that a changed key list or name
    /// reaches the guest at its next boot.
    func writeConfigDrive(_ spec: MachineSpec, files: ParticleFiles) throws {
        let pool = configuration.namespace.pool
        let drive = ConfigDrive(
            hostname: spec.hostname,
            machineID: String(repeating: spec.particleID, count: 3).prefix(32).lowercased(),
            address: spec.address, macAddress: Self.macAddress(for: spec.address),
            prefixLength: pool.prefixLength, gateway: pool.gateway,
            dns: [],
            authorizedKeys: spec.authorizedKeys + [platformKey.publicKey],
            hostKeyPrivate: try String(contentsOf: files.hostKey, encoding: .utf8),
            hostKeyPublic: try String(contentsOf: files.hostKeyPublic, encoding: .utf8))
        try drive.write(to: files.configDrive)
    }
}
