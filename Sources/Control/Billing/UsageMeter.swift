import Foundation
import Support

/// Posts usage charges to the ledger on a fixed interval, in a task of its own.
public final class UsageMeter: Sendable {
    private let task: Task<Void, Never>

    /// Starts posting every `interval` (capped at one hour), the first time right away.
    public init(control: Control, interval: Duration, logger: Logger) {
        let period = min(interval, .seconds(3600))
        task = Task {
            logger.info("usage meter started", ["interval_s": "\(period.components.seconds)"])
            while !Task.isCancelled {
                do {
                    try await control.postUsage()
                } catch {
                    logger.error(
                        "usage posting failed; retrying at the next interval", ["error": "\(error)"]
                    )
                }
                try? await Task.sleep(for: period)
            }
        }
    }

    /// Stops posting; a posting in progress finishes its store transaction.
    public func stop() {
        task.cancel()
    }
}
