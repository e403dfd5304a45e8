import Foundation
import Synchronization

/// A dedicated OS thread that runs blocking work submitted from async code.
///
/// Blocking C calls (SQLite, process waits, sockets in a network namespace) run here so that
/// they never occupy a thread of Swift's cooperative pool. Jobs run one at a time, in order.
public final class BlockingThread: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var stopped = false
    }

    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)
    private let name: String

    /// Starts the thread; `setup` runs on it first (for example to enter a namespace).
    public init(name: String, setup: (@Sendable () -> Void)? = nil) {
        self.name = name
        let thread = Thread { [self] in
            setup?()
            runLoop()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func runLoop() {
        while true {
            wakeup.wait()
            let job: (@Sendable () -> Void)? = state.withLock { state in
                state.jobs.isEmpty ? nil : state.jobs.removeFirst()
            }
            if let job {
                job()
            } else if state.withLock({ $0.stopped }) {
                return
            }
        }
    }

    /// Runs `body` on the thread and returns its result to the awaiting task.
    @discardableResult
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Runs `body` on the thread and blocks the calling thread until it finishes.
    public func runAndWait<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        submit {
            let outcome = Result { try body() }
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    /// Queues `job` without waiting for it.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        state.withLock { $0.jobs.append(job) }
        wakeup.signal()
    }

    /// Lets the thread exit once the queued jobs have run.
    public func stop() {
        state.withLock { $0.stopped = true }
        wakeup.signal()
    }
}

/// Runs `body` on a new dedicated thread and returns its result, for one long blocking call.
@discardableResult
public func onNewThread<T: Sendable>(
    name: String, _ body: @escaping @Sendable () throws -> T
) async throws -> T {
    let thread = BlockingThread(name: name)
    defer { thread.stop() }
    return try await thread.run(body)
}

/// Blocks the calling (dedicated) thread until `operation` finishes, and returns its result.
///
/// For threads that own a C library's state (an SSH session, an event loop) and need a result
/// from async code. Never call it from a task of the cooperative pool.
public func blockingAwait<T: Sendable>(
    _ operation: @escaping @Sendable () async throws -> T
) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<Result<T, any Error>?>(nil)
    Task {
        let outcome: Result<T, any Error>
        do { outcome = .success(try await operation()) } catch { outcome = .failure(error) }
        result.withLock { $0 = outcome }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}
