import Foundation

/// The settings the VMM needs to make and run one particle's guest.
public struct MachineSpec: Sendable, Equatable {
    public var particleID: String
    public var hostname: String
    public var image: String
    public var vcpus: Int
    public var memoryBytes: UInt64
    public var diskBytes: UInt64
    /// The guest's IPv4 address inside Particle's network namespace.
    public var address: String
    public var tapName: String
    /// `authorized_keys` lines for root in the guest: the account's keys.
    public var authorizedKeys: [String]

    public init(
        particleID: String, hostname: String, image: String, vcpus: Int, memoryBytes: UInt64,
        diskBytes: UInt64, address: String, tapName: String, authorizedKeys: [String]
    ) {
        self.particleID = particleID
        self.hostname = hostname
        self.image = image
        self.vcpus = vcpus
        self.memoryBytes = memoryBytes
        self.diskBytes = diskBytes
        self.address = address
        self.tapName = tapName
        self.authorizedKeys = authorizedKeys
    }

    public init(particle: Particle, authorizedKeys: [String]) {
        particleID = particle.id
        hostname = particle.name
        image = particle.image
        vcpus = particle.size.vcpus
        memoryBytes = particle.size.memoryBytes
        diskBytes = particle.size.diskBytes
        address = particle.address
        tapName = particle.tapName
        self.authorizedKeys = authorizedKeys
    }
}

/// A guest image that particles can be made from.
public struct ImageInfo: Sendable, Equatable {
    public var id: String
    public var displayName: String
    public var isDefault: Bool
    /// Whether the image is built and usable here; `reason` explains why not.
    public var available: Bool
    public var reason: String?

    public init(id: String, displayName: String, isDefault: Bool, available: Bool, reason: String?) {
        self.id = id
        self.displayName = displayName
        self.isDefault = isDefault
        self.available = available
        self.reason = reason
    }
}

/// Live numbers about a running guest, read from QEMU.
public struct MachineStats: Sendable, Equatable {
    public var vcpus: Int
    public var memoryTotalBytes: UInt64
    public var diskTotalBytes: UInt64
    public var uptimeSeconds: Int
    /// QEMU's run state as QMP `query-status` names it, capitalized ("Running", "Paused").
    public var vmState: String

    public init(
        vcpus: Int, memoryTotalBytes: UInt64, diskTotalBytes: UInt64, uptimeSeconds: Int,
        vmState: String
    ) {
        self.vcpus = vcpus
        self.memoryTotalBytes = memoryTotalBytes
        self.diskTotalBytes = diskTotalBytes
        self.uptimeSeconds = uptimeSeconds
        self.vmState = vmState
    }
}

/// A particle's disk as reconciliation reads it.
public struct DiskState: Sendable, Equatable {
    /// The size of the disk inside the guest.
    public var virtualBytes: UInt64
    /// The bytes the qcow2 file occupies on the host.
    public var allocatedBytes: UInt64
    /// The tags of the disk's internal snapshots, which are snapshot ids.
    public var snapshotIDs: [String]

    public init(virtualBytes: UInt64, allocatedBytes: UInt64, snapshotIDs: [String]) {
        self.virtualBytes = virtualBytes
        self.allocatedBytes = allocatedBytes
        self.snapshotIDs = snapshotIDs
    }
}

/// The result of a command run in a guest.
public struct ExecResult: Sendable, Equatable {
    public var exitCode: Int32
    /// Standard output and standard error, interleaved as they arrived.
    public var output: [UInt8]

    public init(exitCode: Int32, output: [UInt8]) {
        self.exitCode = exitCode
        self.output = output
    }
}

/// The end of a guest's QEMU that no operation requested, as far as the VMM saw it.
public struct MachineExit: Sendable, Equatable {
    /// "exit status 0" or "killed by signal 7 (SIGBUS)". Nil when the VMM did not see the
    /// process end, because it ended while particled was down or the kernel's process events
    /// are not available.
    public var status: String?
    /// The last lines QEMU wrote to its log.
    public var qemuOutput: String
    /// The last lines of the guest's serial console.
    public var consoleTail: String

    public init(status: String?, qemuOutput: String, consoleTail: String) {
        self.status = status
        self.qemuOutput = qemuOutput
        self.consoleTail = consoleTail
    }

    /// Whether QEMU ended cleanly, which is how a guest that powers itself off ends.
    public var isClean: Bool { status == "exit status 0" }
}

/// What the VMM finds of a particle's guest after a restart, once it has finished or undone a
/// sleep or wake that was cut short.
public enum GuestState: String, Sendable, Equatable {
    /// QEMU runs the guest (adopted).
    case running
    /// QEMU is gone and a complete saved memory state waits for a wake.
    case sleeping
    /// Neither: the guest is powered off.
    case off
}

/// Runs particles as guests; the VMM implements it and `Control` calls it.
///
/// Methods throw `ControlError` with a message safe to show a user.
public protocol Hypervisor: Sendable {
    func images() async -> [ImageInfo]
    /// Makes the particle's disk and config drive, then boots it; returns once the guest's sshd
    /// accepts. On a failed boot the guest is powered off and its serial log kept.
    func create(_ spec: MachineSpec) async throws
    /// Boots an existing particle's disk; returns once the guest's sshd accepts.
    func start(_ spec: MachineSpec) async throws
    /// Shuts the guest down cleanly within `deadline`, then powers it off.
    func stop(particleID: String, deadline: Duration) async throws
    /// Powers the guest off if it runs and removes every file of the particle.
    func destroy(particleID: String) async throws
    func isRunning(particleID: String) async -> Bool
    /// Throws `unavailable` when `memory_dir` has less free space than a guest with
    /// `memoryBytes` of RAM may fill: its QEMU would die of SIGBUS once the tmpfs is full.
    func requireMemoryRoom(memoryBytes: UInt64) async throws
    /// Removes what a guest whose QEMU ended by itself left behind (its tap, `exec` connections
    /// that would otherwise wait forever) and returns how it ended.
    func cleanUpEndedGuest(particleID: String) async -> MachineExit
    /// Saves the guest's memory to disk and ends its QEMU, so that the particle holds no host
    /// memory. Returns the guest's next systemd timer or cron job (nil for none), to wake it
    /// for it.
    func sleep(particleID: String) async throws -> GuestTimer?
    /// Asks the running guest for its next timer and running cron job; nil when its agent does
    /// not reply.
    func guestTimers(particleID: String) async -> GuestTimers?
    /// Resumes a sleeping guest from its saved memory, with the clock set and fresh entropy.
    func wake(_ spec: MachineSpec) async throws
    /// Deletes a sleeping guest's saved memory (the particle is then powered off).
    func discardMemory(particleID: String) async throws
    func hasSavedMemory(particleID: String) async -> Bool
    /// Repairs a sleep or wake cut short by a crash and reports the guest's state: a QEMU that
    /// runs is kept, one left paused by a cut-short save resumes, one that had not finished
    /// loading saved memory is ended (the memory file is still whole). A guest resumed from
    /// another guest's memory gets its identity now, or is ended if its agent does not take it.
    func recover(particleID: String) async -> GuestState
    /// Takes over a guest that runs from before this process started (reads its console again).
    func adopt(particleID: String) async throws
    /// Removes the temporary files that an interrupted disk operation left in the particle's
    /// folder, and returns the state of its disk, or nil when it has none.
    func repairFiles(particleID: String) async throws -> DiskState?
    /// Waits until an adopted guest's sshd accepts, within the boot timeout.
    func waitUntilBooted(_ spec: MachineSpec) async throws
    func stats(particleID: String) async -> MachineStats?
    /// Runs `command` in the guest through its sshd, logged in as root with the platform key.
    func exec(
        _ spec: MachineSpec, command: String,
        onOutput: (@Sendable ([UInt8]) -> Void)?
    ) async throws -> ExecResult
    /// Grows the particle's disk to `diskBytes` (never shrinks); the guest grows its file
    /// system at the next boot. The guest must not run.
    func growDisk(particleID: String, diskBytes: UInt64) async throws
    /// Replaces the particle's disk with a fresh overlay of `spec.image`; the guest must not run.
    func rebuild(_ spec: MachineSpec) async throws
    /// Makes `spec`'s particle a copy of `sourceID`'s disk with its own identity; neither runs.
    /// With `withMemory`, the sleeping source's saved memory is copied too and the copy takes its
    /// own identity at its first wake.
    func duplicate(from sourceID: String, to spec: MachineSpec, withMemory: Bool) async throws
    /// Takes an internal snapshot `snapshotID` of the disk, pausing a running guest for the
    /// instant it takes. Returns the bytes the disk occupies, which the snapshot keeps allocated.
    func createSnapshot(particleID: String, snapshotID: String) async throws -> UInt64
    /// Rolls the disk back to snapshot `snapshotID`; the guest must not run.
    func restoreSnapshot(particleID: String, snapshotID: String) async throws
    func deleteSnapshot(particleID: String, snapshotID: String) async throws
    /// Returns a connected TCP socket to `port` of the guest at `address`; the caller owns it.
    func connect(address: String, port: Int) async throws -> Int32
    /// Reads the serial console log from byte `offset`; returns the bytes and the next offset.
    func serialLog(particleID: String, offset: Int) async throws -> (bytes: [UInt8], next: Int)
}
