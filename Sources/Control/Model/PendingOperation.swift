import Foundation

/// A change to a particle's disk or record that the store notes before the VMM acts and clears
/// once the change is complete, so that reconciliation can finish it after a crash.
///
/// Create, start and wake need no entry here: the statuses `creating` and `starting` note them.
public enum PendingOperation: Sendable, Equatable, Codable {
    /// Removal of the particle, its guest and its files.
    case delete
    /// A clean shutdown of the guest. The status `stopping` is not enough of a note, because a
    /// sleep uses it too.
    case stop
    /// Replacement of the disk with a fresh overlay of `image`.
    case rebuild(image: String)
    /// A change of size tier, with the disk grown to the tier's size.
    case resize(size: ParticleSize)
    /// An internal snapshot `id` of the disk, to be listed as `name`.
    case createSnapshot(id: String, name: String)
    /// A roll-back of the disk to snapshot `id`.
    case restoreSnapshot(id: String)
    /// Removal of snapshot `id` from the disk and the store.
    case deleteSnapshot(id: String)

    /// A short name for logs.
    public var kind: String {
        switch self {
        case .delete: "delete"
        case .stop: "stop"
        case .rebuild: "rebuild"
        case .resize: "resize"
        case .createSnapshot: "snapshot create"
        case .restoreSnapshot: "snapshot restore"
        case .deleteSnapshot: "snapshot delete"
        }
    }
}

/// A pending operation as the store keeps it.
public struct PendingOperationRecord: Sendable, Equatable {
    public var particleID: String
    public var operation: PendingOperation
    public var startedAt: Date

    public init(particleID: String, operation: PendingOperation, startedAt: Date) {
        self.particleID = particleID
        self.operation = operation
        self.startedAt = startedAt
    }
}
