import Foundation
import Support

extension Control {
    /// Renames a particle; its host names follow at once and the old ones return 404.
    public func renameParticle(accountID: String, name: String, newName: String) async throws -> Particle {
        try ParticleName.validate(newName)
        let renamed = try await updateParticle(accountID: accountID, name: name, operation: "rename") { particle in
            particle.name = newName
        } conflict: {
            "particle '\(newName)' already exists; choose another name"
        }
        CrashPoint.reach(.renameStored)
        return renamed
    }

    /// Sets the guest port that `<name>-<acct>.<domain>` and a custom domain forward to.
    public func setHTTPPort(accountID: String, name: String, port: Int) async throws -> Particle {
        guard (1...65535).contains(port) else {
            throw ControlError.invalidArgument("invalid http_port \(port); use a port from 1 to 65535")
        }
        return try await updateParticle(accountID: accountID, name: name, operation: "port") { particle in
            particle.httpPort = port
        }
    }

    /// Sets the idle policy, with the timeout of `sleep` and the windows of `schedule`.
    public func setIdlePolicy(
        accountID: String, name: String, policy text: String, timeoutSeconds: Int? = nil,
        schedule: String? = nil
    ) async throws -> Particle {
        guard let policy = IdlePolicy(rawValue: text) else {
            throw ControlError.invalidArgument("invalid policy '\(text)'; use one of none, on, sleep, schedule")
        }
        if let timeoutSeconds { try IdleSettings.validateTimeout(timeoutSeconds) }
        if policy == .schedule {
            guard let schedule else {
                throw ControlError.invalidArgument(
                    "missing schedule for policy 'schedule'; give windows like 'mon-fri 08:00-19:00 Europe/Berlin'")
            }
            _ = try WeeklySchedule(parsing: schedule)
        } else if schedule != nil {
            throw ControlError.invalidArgument("a schedule is only used with policy 'schedule'")
        }
        return try await updateParticle(accountID: accountID, name: name, operation: "idle") { particle in
            particle.idlePolicy = policy
            particle.idleSchedule = policy == .schedule ? schedule : nil
            if let timeoutSeconds { particle.idleTimeoutSeconds = timeoutSeconds }
        }
    }

    /// Serves the particle's default port at `domain` too; a domain belongs to one particle.
    public func setCustomDomain(accountID: String, name: String, domain text: String) async throws -> Particle {
        let domain = try Self.validateDomain(text, platformDomain: configuration.domain)
        return try await updateParticle(accountID: accountID, name: name, operation: "domain") { particle in
            particle.customDomain = domain
        } conflict: {
            "domain '\(domain)' is already used by a particle"
        }
    }

    public func removeCustomDomain(accountID: String, name: String) async throws -> Particle {
        try await updateParticle(accountID: accountID, name: name, operation: "domain") { particle in
            particle.customDomain = nil
        }
    }

    /// Applies `change` to the particle under its lock and stores it; a uniqueness conflict
    /// becomes `conflict()`'s message.
    private func updateParticle(
        accountID: String, name: String, operation: String,
        _ change: @escaping @Sendable (inout Particle) -> Void,
        conflict: @escaping @Sendable () -> String = { "the change conflicts with another particle" }
    ) async throws -> Particle {
        let particle = try await self.particle(accountID: accountID, name: name)
        return try await particleLock.withLock(particle.id) {
            var updated = try await self.particle(accountID: accountID, name: name)
            change(&updated)
            do {
                try await store.updateParticle(updated)
            } catch let error as ControlError where error.code == .conflict {
                throw ControlError.conflict(conflict())
            }
            logger.info(
                "particle updated", ["account": accountID, "particle": particle.id, "op": operation])
            return updated
        }
    }

    static func validateDomain(_ text: String, platformDomain: String) throws(ControlError) -> String {
        let domain = text.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        let validLabels = labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
        }
        guard labels.count >= 2, domain.count <= 253, validLabels else {
            throw .invalidArgument("invalid domain '\(text)'; use a DNS name like app.example.com")
        }
        let platform = platformDomain.lowercased()
        guard domain != platform, !domain.hasSuffix("." + platform) else {
            throw .invalidArgument(
                "invalid domain '\(text)': names under \(platform) are the platform's own; use your own domain")
        }
        return domain
    }
}
