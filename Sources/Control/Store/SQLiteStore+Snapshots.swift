import Foundation

extension SQLiteStore {
    public func snapshots(particleID: String) async throws -> [Snapshot] {
        try await run { database in
            try database.query(
                "SELECT id, particle_id, name, size_bytes, created_at FROM snapshots"
                    + " WHERE particle_id = ? ORDER BY created_at, name",
                [.text(particleID)]
            ).map { row in
                Snapshot(
                    id: row[0].string!, particleID: row[1].string!, name: row[2].string!,
                    sizeBytes: UInt64(row[3].int!), createdAt: row[4].date!)
            }
        }
    }

    public func snapshotCount(accountID: String) async throws -> Int {
        try await run { database in
            let rows = try database.query(
                "SELECT COUNT(*) FROM snapshots s JOIN particles p ON p.id = s.particle_id"
                    + " WHERE p.account_id = ?",
                [.text(accountID)])
            return Int(rows.first?.first?.int ?? 0)
        }
    }

    public func insertSnapshot(_ snapshot: Snapshot) async throws {
        try await run { database in
            try database.query(
                "INSERT INTO snapshots (id, particle_id, name, size_bytes, created_at) VALUES (?, ?, ?, ?, ?)",
                [
                    .text(snapshot.id), .text(snapshot.particleID), .text(snapshot.name),
                    .integer(Int64(snapshot.sizeBytes)), .time(snapshot.createdAt),
                ])
        }
    }

    public func deleteSnapshot(id: String) async throws {
        try await run { database in
            try database.query("DELETE FROM snapshots WHERE id = ?", [.text(id)])
        }
    }
}
