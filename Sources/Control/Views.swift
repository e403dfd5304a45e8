import Foundation

/// The JSON forms of domain objects, shared by the REST API and the SSH commands' `--json`.
extension Particle {
    /// The fields of a create response.
    public var createdJSON: JSON {
        .object([
            ("id", .string(id)), ("name", .string(name)), ("size", .string(size.rawValue)),
            ("status", .string(status.rawValue)), ("http_port", .int(Int64(httpPort))),
            ("image", .string(image)), ("created_at", JSON.time(createdAt)),
        ])
    }

    /// The fields of one entry of a particle list.
    public var summaryJSON: JSON {
        .object([
            ("id", .string(id)), ("name", .string(name)), ("size", .string(size.rawValue)),
            ("status", .string(status.rawValue)), ("idle_policy", .string(idlePolicy.rawValue)),
            ("created_at", JSON.time(createdAt)),
        ])
    }

    /// The full fields, as `GET /v1/particles/:name` and the lifecycle operations return them.
    public var detailJSON: JSON {
        .object(detailFields)
    }

    var detailFields: [(String, JSON)] {
        var fields: [(String, JSON)] = [
            ("id", .string(id)), ("name", .string(name)), ("size", .string(size.rawValue)),
            ("status", .string(status.rawValue)), ("http_port", .int(Int64(httpPort))),
            ("image", .string(image)),
        ]
        if let customDomain { fields.append(("custom_domain", .string(customDomain))) }
        fields.append(("idle_policy", .string(idlePolicy.rawValue)))
        fields.append(("idle_timeout_seconds", .int(Int64(idleTimeoutSeconds))))
        if let idleSchedule { fields.append(("idle_schedule", .string(idleSchedule))) }
        fields.append(("created_at", JSON.time(createdAt)))
        if let stoppedAt { fields.append(("stopped_at", JSON.time(stoppedAt))) }
        return fields
    }

}

/// A particle with what is known about it right now: its guest's numbers and its activity.
public struct ParticleStatusReport: Sendable {
    public var particle: Particle
    public var stats: MachineStats?
    /// Proxied exchanges, tunnels, SSH sessions and `exec` commands open on it.
    public var openConnections: Int
    public var lastActivity: Date?
    /// When the scheduler wakes or starts the particle by itself next, if it will.
    public var wakeAt: Date?

    /// The fields of `GET /v1/particles/:name/status`: the details plus the guest's numbers.
    public var json: JSON {
        let status = particle.status
        let size = particle.size
        var fields = particle.detailFields
        let stateName = stats?.vmState ?? (status == .running ? "Unknown" : "Shutdown")
        fields.append(
            ("vm_stats", .object([
                ("vcpus", .int(Int64(stats?.vcpus ?? size.vcpus))),
                ("memory_total_bytes", .int(Int64(stats?.memoryTotalBytes ?? size.memoryBytes))),
                ("disk_total_bytes", .int(Int64(stats?.diskTotalBytes ?? size.diskBytes))),
                ("uptime_seconds", .int(Int64(stats?.uptimeSeconds ?? 0))),
                ("vm_state", .string(stateName)),
            ])))
        fields.append(("network_peers", .int(Int64(openConnections))))
        fields.append(("last_activity_at", lastActivity.map(JSON.time) ?? .null))
        fields.append(("wake_at", wakeAt.map(JSON.time) ?? .null))
        // Only a running guest can be checked, by its QEMU responding to the queries for the numbers above.
        fields.append(("healthy", .bool(status == .running && stats != nil)))
        return .object(fields)
    }
}

extension Account {
    public var json: JSON {
        .object([
            ("id", .string(id)), ("balance_cents", .int(balanceCents)),
            ("recovery_email", recoveryEmail.map(JSON.string) ?? .null),
            ("created_at", JSON.time(createdAt)),
        ])
    }
}

extension ImageInfo {
    public var json: JSON {
        var fields: [(String, JSON)] = [
            ("id", .string(id)), ("name", .string(id)), ("display_name", .string(displayName)),
            ("default", .bool(isDefault)),
        ]
        if !available {
            fields.append(("available", .bool(false)))
            fields.append(("reason", .string(reason ?? "not built")))
        }
        return .object(fields)
    }
}

extension ExecResult {
    public var json: JSON {
        .object([
            ("exit_code", .int(Int64(exitCode))),
            ("output", .string(String(decoding: output, as: UTF8.self))),
        ])
    }
}

extension AccountKey {
    public var json: JSON {
        .object([
            ("id", .string(id)), ("public_key", .string(publicKey.lineWithComment)), ("name", .string(name)),
            ("fingerprint", .string(publicKey.fingerprint)), ("created_at", JSON.time(createdAt)),
        ])
    }
}

extension Snapshot {
    /// The fields of a create response.
    public var createdJSON: JSON {
        .object([
            ("id", .string(id)), ("particle_id", .string(particleID)), ("name", .string(name)),
            ("size_bytes", .int(Int64(sizeBytes))), ("created_at", JSON.time(createdAt)),
        ])
    }

    /// The fields of one entry of a snapshot list.
    public var summaryJSON: JSON {
        .object([
            ("id", .string(id)), ("name", .string(name)), ("size_bytes", .int(Int64(sizeBytes))),
            ("created_at", JSON.time(createdAt)),
        ])
    }
}

extension WakeReport {
    public var json: JSON {
        .object([
            ("name", .string(particle.name)), ("status", .string(particle.status.rawValue)),
            ("idle_policy", .string(particle.idlePolicy.rawValue)),
            ("idle_timeout_seconds", .int(Int64(particle.idleTimeoutSeconds))),
            ("summary", .string(summary)),
            ("activities", .array(activities.map { activity in
                .object([
                    ("kind", .string(activity.kind.rawValue)), ("detail", .string(activity.detail)),
                    ("since", JSON.time(activity.startedAt)),
                    ("seconds", .int(Int64(max(0, now.timeIntervalSince(activity.startedAt))))),
                ])
            })),
            ("last_activity_at", lastActivity.map(JSON.time) ?? .null),
            ("sleeps_at", sleepsAt.map(JSON.time) ?? .null),
            ("wake_at", particle.wakeAt.map(JSON.time) ?? .null),
            ("wake_reason", particle.wakeReason.map(JSON.string) ?? .null),
        ])
    }
}
