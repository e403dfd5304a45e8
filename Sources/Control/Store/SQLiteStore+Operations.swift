import Foundation

extension SQLiteStore {
    public func beginOperation(_ record: PendingOperationRecord) async throws {
        let json = String(decoding: try JSONEncoder().encode(record.operation), as: UTF8.self)
        try await run { database in
            try database.query(
                "INSERT INTO pending_operations (particle_id, operation, started_at) VALUES (?, ?, ?)",
                [.text(record.particleID), .text(json), .time(record.startedAt)])
        }
    }

    public func endOperation(particleID: String) async throws {
        try await run { database in
            try database.query("DELETE FROM pending_operations WHERE particle_id = ?", [.text(particleID)])
        }
    }

    public func pendingOperations() async throws -> [PendingOperationRecord] {
        let rows = try await run { database in
            try database.query(
                "SELECT particle_id, operation, started_at FROM pending_operations ORDER BY started_at")
        }
        return try rows.map { row in
            let operation: PendingOperation
            do {
                operation = try JSONDecoder().decode(PendingOperation.self, from: Data(row[1].string!.utf8))
            } catch {
                throw ControlError.internal(
                    "invalid pending operation in the store", detail: "\(row[1].string!): \(error)")
            }
            return PendingOperationRecord(particleID: row[0].string!, operation: operation, startedAt: row[2].date!)
        }
    }
}
