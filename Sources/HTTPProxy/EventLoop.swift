import Foundation
import Glibc
import Synchronization

/// An object that receives readiness events for one file descriptor on an event loop.
protocol EventHandler: AnyObject {
    /// Handles the epoll `events` reported for the handler's descriptor.
    func handleEvents(_ events: UInt32)
    /// Closes the handler because its loop is stopping.
    func loopStopped()
}

/// One thread that waits in `epoll_wait` and runs handlers, timers and queued jobs.
///
/// Descriptors are registered edge-triggered for both directions, so handlers read and write
/// until `EAGAIN` and remember whether a direction is ready. Every method except `execute` and
/// `stop` must be called on the loop's own thread.
final class EventLoop: @unchecked Sendable {
    // @unchecked: loop-confined fields are touched only on the loop thread; `jobs` is a Mutex.
    typealias Token = UInt64

    private struct Jobs {
        var queue: [@Sendable () -> Void] = []
        var stopped = false
    }

    let name: String
    private let epollFD: Int32
    private let wakeFD: Int32
    private let jobs = Mutex(Jobs())
    private let exited = DispatchSemaphore(value: 0)

    // Loop-confined state.
    private var handlers: [Token: any EventHandler] = [:]
    private var nextToken: Token = 1
    private var timers = TimerHeap()
    private var deferred: [() -> Void] = []
    private var stopping = false
    var dateCache = DateCache()
    /// A read buffer shared by every handler on this loop, which keeps no data between calls.
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)

    init(name: String) throws(HTTPServerError) {
        self.name = name
        epollFD = Epoll.create()
        wakeFD = Epoll.createEventFD()
        guard epollFD >= 0, wakeFD >= 0,
            Epoll.control(epollFD, Epoll.controlAdd, wakeFD, events: Epoll.input, token: 0) == 0
        else {
            throw .system(operation: "create event loop \(name)", code: errno)
        }
    }

    deinit {
        Glibc.close(epollFD)
        Glibc.close(wakeFD)
        scratch.deallocate()
    }

    /// Starts the loop's thread.
    func start() {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Queues `job` to run on the loop thread; returns false when the loop has stopped.
    @discardableResult
    func execute(_ job: @escaping @Sendable () -> Void) -> Bool {
        let queued = jobs.withLock { jobs in
            guard !jobs.stopped else { return false }
            jobs.queue.append(job)
            return true
        }
        if queued { wake() }
        return queued
    }

    /// Stops the loop, closes every handler and waits for the thread to exit.
    func stop() {
        let first = jobs.withLock { jobs in
            defer { jobs.stopped = true }
            return !jobs.stopped
        }
        guard first else { return }
        wake()
        exited.wait()
    }

    /// Registers `fd` for edge-triggered input and output events; nil when the loop is stopping.
    func register(_ fd: Int32, handler: any EventHandler) -> Token? {
        guard !stopping else { return nil }
        let token = nextToken
        nextToken += 1
        let interest = Epoll.input | Epoll.output | Epoll.readHangUp | Epoll.edgeTriggered
        guard Epoll.control(epollFD, Epoll.controlAdd, fd, events: interest, token: token) == 0
        else { return nil }
        handlers[token] = handler
        return token
    }

    /// Removes `fd`; call it before closing the descriptor.
    func deregister(_ fd: Int32, token: Token) {
        handlers[token] = nil
        _ = Epoll.control(epollFD, Epoll.controlDelete, fd, events: 0, token: 0)
    }

    /// Runs `job` after the events of the current iteration, outside any handler's call stack.
    func deferToNextIteration(_ job: @escaping () -> Void) {
        deferred.append(job)
    }

    /// Runs `action` once at `deadline` (CLOCK_MONOTONIC nanoseconds) unless cancelled.
    func scheduleTimer(at deadline: UInt64, _ action: @escaping () -> Void) -> TimerHeap.ID {
        timers.schedule(at: deadline, action)
    }

    func cancelTimer(_ id: TimerHeap.ID) {
        timers.cancel(id)
    }

    /// Returns the current CLOCK_MONOTONIC time in nanoseconds.
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    private func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    private func run() {
        let buffer = Epoll.EventBuffer(capacity: 256)
        defer { buffer.deallocate() }
        while !jobs.withLock({ $0.stopped }) {
            let timeout = deferred.isEmpty ? timers.millisecondsUntilNext(now: Self.now()) : 0
            for (events, token) in buffer.wait(epollFD, timeout: timeout) {
                if token == 0 {
                    var value: UInt64 = 0
                    _ = Glibc.read(wakeFD, &value, 8)
                } else {
                    handlers[token]?.handleEvents(events)
                }
            }
            runDeferred()
            runQueuedJobs()
            for action in timers.popDue(now: Self.now()) { action() }
        }
        shutDown()
    }

    /// Runs the jobs deferred so far. Jobs that they defer wait for the next iteration, so a
    /// connection that keeps deferring work cannot keep epoll from running.
    private func runDeferred() {
        let batch = deferred
        deferred.removeAll()
        for job in batch { job() }
    }

    private func runQueuedJobs() {
        let batch = jobs.withLock { jobs in
            defer { jobs.queue.removeAll() }
            return jobs.queue
        }
        for job in batch { job() }
    }

    /// Closes every handler, then runs the jobs queued before the stop so that they can release
    /// what they carry (an upstream socket, for example).
    private func shutDown() {
        stopping = true
        for handler in handlers.values { handler.loopStopped() }
        handlers.removeAll()
        while !deferred.isEmpty { runDeferred() }
        runQueuedJobs()
        while !deferred.isEmpty { runDeferred() }
        exited.signal()
    }
}
