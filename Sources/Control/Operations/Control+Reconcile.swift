extension Control {
    /// Makes every stored status agree with the guests that really run, after a restart or crash.
    ///
    /// A guest that still runs is adopted whatever its stored status. A particle whose guest is
    /// gone becomes `stopped` with its disk kept, or `error` if it was still being created.
    public func reconcile() async throws {
        for particle in try await store.allParticles() {
            let fields = ["particle": particle.id, "name": particle.name, "was": particle.status.rawValue]
            let running = await hypervisor.isRunning(particleID: particle.id)
            if running {
                do {
                    try await hypervisor.adopt(particleID: particle.id)
                } catch {
                    logger.warning("cannot adopt running guest", fields.merging(["error": "\(error)"]) { a, _ in a })
                }
                if particle.status != .running {
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
                case .running, .starting, .stopping: .stopped
                case .stopped, .error, .sleeping: nil
                }
            if let corrected {
                try await setStatus(particle, corrected)
                logger.notice("status corrected", fields.merging(["now": corrected.rawValue]) { a, _ in a })
            }
        }
    }
}
