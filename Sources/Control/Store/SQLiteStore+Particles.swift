import Foundation

extension SQLiteStore {
    private static let particleColumns = """
        id, account_id, name, size, image, status, http_port, idle_policy, address,
        custom_domain, created_at, stopped_at, status_changed_at, idle_timeout_seconds, idle_schedule, wake_at,
        wake_reason
        """

    public func particles(accountID: String) async throws -> [Particle] {
        try await selectParticles("WHERE account_id = ? ORDER BY created_at, rowid", [.text(accountID)])
    }

    public func allParticles() async throws -> [Particle] {
        try await selectParticles("ORDER BY created_at, id", [])
    }

    public func particle(accountID: String, name: String) async throws -> Particle? {
        try await selectParticles("WHERE account_id = ? AND name = ?", [.text(accountID), .text(name)])
            .first
    }

    public func particle(id: String) async throws -> Particle? {
        try await selectParticles("WHERE id = ?", [.text(id)]).first
    }

    public func particle(customDomain: String) async throws -> Particle? {
        try await selectParticles("WHERE custom_domain = ?", [.text(customDomain)]).first
    }

    public func insertParticle(_ particle: Particle, pool: AddressPool) async throws -> Particle {
        try await run { database in
            try database.transaction {
                let used = Set(
                    try database.query("SELECT address FROM particles").compactMap { $0[0].string })
                guard let address = pool.guestAddresses.first(where: { !used.contains($0) }) else {
                    throw ControlError.unavailable(
                        "no free guest address is left in subnet \(pool); delete unused particles"
                            + " or configure a larger subnet")
                }
                var inserted = particle
                inserted.address = address
                try database.query(
                    "INSERT INTO particles (\(Self.particleColumns))"
                        + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    Self.values(inserted))
                try Self.openInterval(for: inserted, at: inserted.statusChangedAt, in: database)
                return inserted
            }
        }
    }

    public func updateParticle(_ particle: Particle) async throws {
        try await run { database in
            try database.transaction {
                let values = Self.values(particle)
                try database.query(
                    """
                    UPDATE particles SET account_id = ?, name = ?, size = ?, image = ?, status = ?,
                    http_port = ?, idle_policy = ?, address = ?, custom_domain = ?, created_at = ?,
                    stopped_at = ?, status_changed_at = ?, idle_timeout_seconds = ?, idle_schedule = ?,
                    wake_at = ?, wake_reason = ?
                    WHERE id = ?
                    """,
                    Array(values.dropFirst()) + [values[0]])
                try Self.recordInterval(for: particle, in: database)
            }
        }
    }

    public func deleteParticle(id: String, at time: Date) async throws {
        try await run { database in
            try database.transaction {
                try Self.closeInterval(particleID: id, at: time, in: database)
                try database.query("DELETE FROM particles WHERE id = ?", [.text(id)])
            }
        }
    }

    private func selectParticles(_ clause: String, _ parameters: [SQLiteValue]) async throws
        -> [Particle]
    {
        try await run { database in
            try database.query(
                "SELECT \(Self.particleColumns) FROM particles \(clause)", parameters
            ).map(Self.particle)
        }
    }

    private static func values(_ particle: Particle) -> [SQLiteValue] {
        [
            .text(particle.id), .text(particle.accountID), .text(particle.name),
            .text(particle.size.rawValue), .text(particle.image), .text(particle.status.rawValue),
            .integer(Int64(particle.httpPort)), .text(particle.idlePolicy.rawValue),
            .text(particle.address), .optionalText(particle.customDomain),
            .time(particle.createdAt), .time(particle.stoppedAt), .time(particle.statusChangedAt),
            .integer(Int64(particle.idleTimeoutSeconds)), .optionalText(particle.idleSchedule),
            .time(particle.wakeAt), .optionalText(particle.wakeReason),
        ]
    }

    private static func particle(_ row: [SQLiteValue]) -> Particle {
        var particle = Particle(
            id: row[0].string!, accountID: row[1].string!, name: row[2].string!,
            size: ParticleSize(rawValue: row[3].string!) ?? .p1, image: row[4].string!,
            status: ParticleStatus(rawValue: row[5].string!) ?? .error,
            httpPort: Int(row[6].int!), idlePolicy: IdlePolicy(rawValue: row[7].string!) ?? .sleep,
            address: row[8].string!, customDomain: row[9].string, createdAt: row[10].date!,
            stoppedAt: row[11].date, statusChangedAt: row[12].date!)
        particle.idleTimeoutSeconds = Int(row[13].int!)
        particle.idleSchedule = row[14].string
        particle.wakeAt = row[15].date
        particle.wakeReason = row[16].string
        return particle
    }
}
