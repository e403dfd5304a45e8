extension Control {
    /// Waits for an adopted guest that was booting when particled stopped, then records whether
    /// it came up.
    func finishBoot(_ particle: Particle) async {
        let fields = ["particle": particle.id, "name": particle.name]
        do {
            try await particleLock.withLock(particle.id) { [self] in
                do {
                    try await hypervisor.waitUntilBooted(try await machineSpec(particle))
                    try await setStatus(particle, .running)
                    logger.notice("adopted guest finished booting", fields)
                } catch {
                    try await hypervisor.stop(particleID: particle.id, deadline: .seconds(1))
                    try await setStatus(particle, .error)
                    logger.warning("adopted guest did not finish booting", fields.merging(["error": "\(error)"]) { a, _ in a })
                }
            }
        } catch {
            logger.error("recording an adopted boot failed", fields.merging(["error": "\(error)"]) { a, _ in a })
        }
    }

    /// Makes every stored status agree with the guests that really run, after a restart or crash.
    ///
    /// A guest that still runs is adopted whatever its stored status; one with whole saved memory
    /// is `sleeping`. A particle whose guest is gone otherwise becomes `stopped` with its disk
    /// kept, or `error` if it was still being created.
    public func reconcile() async throws {
        for particle in try await store.allParticles() {
            let fields = ["particle": particle.id, "name": particle.name, "was": particle.status.rawValue]
            let state = await hypervisor.recover(particleID: particle.id)
            if state == .sleeping {
                // The memory file is whole: a sleep that finished saving, or a wake cut short.
                if particle.status != .sleeping {
                    try await setStatus(particle, .sleeping)
                    logger.notice("status corrected", fields.merging(["now": "sleeping"]) { a, _ in a })
                }
                continue
            }
            if state == .running {
                do {
                    try await hypervisor.adopt(particleID: particle.id)
                } catch {
                    logger.warning("cannot adopt running guest", fields.merging(["error": "\(error)"]) { a, _ in a })
                }
                if particle.status == .creating || particle.status == .starting {
                    // The guest may still be booting: it becomes running once its sshd accepts.
                    let booting = try await setStatus(particle, .starting)
                    Task { await finishBoot(booting) }
                } else if particle.status != .running {
                    try await setStatus(particle, .running)
                    logger.notice("status corrected", fields.merging(["now": "running"]) { a, _ in a })
                } else {
                    logger.info("guest adopted", fields)
                }
                continue
            }
            let corrected: ParticleStatus? =
                switch particle.status {
                case .creating: .error
                case .running, .starting, .stopping, .sleeping: .stopped
                case .stopped, .error: nil
                }
            if let corrected {
                try await setStatus(particle, corrected)
                logger.notice("status corrected", fields.merging(["now": corrected.rawValue]) { a, _ in a })
            }
        }
    }
}
