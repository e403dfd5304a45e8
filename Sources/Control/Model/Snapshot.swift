import Foundation

/// A named point-in-time copy of a particle's disk.
public struct Snapshot: Sendable, Equatable {
    /// `snap_` and random hex; also the snapshot's tag inside the qcow2 disk.
    public var id: String
    public var particleID: String
    public var name: String
    /// The bytes the disk held when the snapshot was taken, which the snapshot keeps allocated.
    public var sizeBytes: UInt64
    public var createdAt: Date
}
