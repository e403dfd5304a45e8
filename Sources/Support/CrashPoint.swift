import Foundation

/// A test-only fault hook: with `PARTICLE_CRASH_AT=<name>` in its environment, particled kills
/// itself with SIGKILL when it reaches the crash point `name`.
///
/// Crash points sit between a store write and the VMM action that follows it, and inside VMM
/// actions. The end-to-end tests use them to stop particled at an exact moment of an operation
/// and check what reconciliation makes of it at the next start. Without the variable, `reach`
/// does nothing.
public struct CrashPoint: Sendable, Equatable, CustomStringConvertible {
    public let name: String

    private init(_ name: String) { self.name = name }

    public var description: String { name }

    /// The environment variable that selects a crash point.
    public static let environmentVariable = "PARTICLE_CRASH_AT"

    public static let createStored = CrashPoint("create.stored")
    /// A new particle's QEMU has loaded its image's template guest and is paused, and the
    /// guest has neither run nor taken the particle's identity.
    public static let createTemplateLoaded = CrashPoint("create.template-loaded")
    /// A new particle's guest runs, resumed from its image's template with its identity applied.
    public static let createTemplateResumed = CrashPoint("create.template-resumed")
    public static let startStored = CrashPoint("start.stored")
    /// QEMU has started, paused (`-S`) or waiting for a saved state, before the serial console
    /// is read and the guest runs.
    public static let bootLaunched = CrashPoint("boot.launched")
    public static let stopStored = CrashPoint("stop.stored")
    /// The guest got the ACPI power-down request and may be shutting down.
    public static let stopPowerdownSent = CrashPoint("stop.powerdown-sent")
    public static let deleteStored = CrashPoint("delete.stored")
    public static let deleteDestroyed = CrashPoint("delete.destroyed")
    public static let duplicateStored = CrashPoint("duplicate.stored")
    /// The copy's disk is written to its temporary name, not yet renamed into place.
    public static let duplicateCopied = CrashPoint("duplicate.copied")
    public static let rebuildStored = CrashPoint("rebuild.stored")
    /// The fresh disk has replaced the old one, and the store does not know yet.
    public static let rebuildReplaced = CrashPoint("rebuild.replaced")
    public static let resizeStored = CrashPoint("resize.stored")
    public static let renameStored = CrashPoint("rename.stored")
    public static let snapshotCreateStored = CrashPoint("snapshot-create.stored")
    /// A running guest is paused for the snapshot, which is not taken yet.
    public static let snapshotCreatePaused = CrashPoint("snapshot-create.paused")
    public static let snapshotCreateTaken = CrashPoint("snapshot-create.taken")
    public static let snapshotRestoreStored = CrashPoint("snapshot-restore.stored")
    public static let snapshotDeleteStored = CrashPoint("snapshot-delete.stored")
    public static let snapshotDeleteDeleted = CrashPoint("snapshot-delete.deleted")

    public static let sleepStored = CrashPoint("sleep.stored")
    /// The guest's memory is saved in full and its QEMU, paused, has not quit yet.
    public static let sleepSaved = CrashPoint("sleep.saved")
    /// A wake has loaded the saved memory into a paused QEMU; the saved files still exist.
    public static let wakeLoaded = CrashPoint("wake.loaded")
    /// The woken guest runs, and the store does not know yet.
    public static let wakeResumed = CrashPoint("wake.resumed")

    public static let all: [CrashPoint] = [
        createStored, createTemplateLoaded, createTemplateResumed, startStored, bootLaunched, stopStored,
        stopPowerdownSent, deleteStored, deleteDestroyed, duplicateStored, duplicateCopied,
        rebuildStored, rebuildReplaced, resizeStored, renameStored, snapshotCreateStored,
        snapshotCreatePaused, snapshotCreateTaken, snapshotRestoreStored, snapshotDeleteStored,
        snapshotDeleteDeleted, sleepStored, sleepSaved, wakeLoaded, wakeResumed,
    ]

    private static let selected = ProcessInfo.processInfo.environment[environmentVariable]

    /// Checks the environment variable at start: an unknown name is an error that lists the
    /// known ones, so that a misspelt test point cannot pass silently.
    public static func validateEnvironment() throws(CrashPointError) {
        guard let selected, !all.contains(where: { $0.name == selected }) else { return }
        throw CrashPointError(name: selected)
    }

    /// Kills this process with SIGKILL if `point` is the selected crash point.
    public static func reach(_ point: CrashPoint) {
        guard selected == point.name else { return }
        FileHandle.standardError.write(
            Data("crash point \(point.name) reached; killing particled (\(environmentVariable))\n".utf8))
        kill(getpid(), SIGKILL)
    }
}

/// An unknown crash point name in the environment.
public struct CrashPointError: Error, CustomStringConvertible {
    public var name: String

    public var description: String {
        "unknown crash point '\(name)' in \(CrashPoint.environmentVariable); use one of "
            + CrashPoint.all.map(\.name).joined(separator: ", ") + ", or unset it"
    }
}
