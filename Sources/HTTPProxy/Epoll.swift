import CLinux
import Glibc

/// epoll(7) and eventfd(2) for the event loop, through the `CLinux` wrappers (Swift's Glibc
/// module does not export `<sys/epoll.h>` or `<sys/eventfd.h>`).
enum Epoll {
    static let input = UInt32(PARTICLE_EPOLL_IN)
    static let output = UInt32(PARTICLE_EPOLL_OUT)
    static let error = UInt32(PARTICLE_EPOLL_ERR)
    static let hangUp = UInt32(PARTICLE_EPOLL_HUP)
    static let readHangUp = UInt32(PARTICLE_EPOLL_RDHUP)
    static let edgeTriggered = PARTICLE_EPOLL_ET

    static let controlAdd: Int32 = 1
    static let controlDelete: Int32 = 2

    /// Calls `epoll_create1(EPOLL_CLOEXEC)`.
    static func create() -> Int32 {
        particle_epoll_create()
    }

    /// Calls `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`.
    static func createEventFD() -> Int32 {
        particle_eventfd()
    }

    /// Adds `fd` with `events` and `token` (`controlAdd`) or removes it (`controlDelete`).
    static func control(
        _ epollFD: Int32, _ operation: Int32, _ fd: Int32, events: UInt32, token: UInt64
    ) -> Int32 {
        operation == controlAdd
            ? particle_epoll_add(epollFD, fd, events, token) : particle_epoll_delete(epollFD, fd)
    }

    /// A buffer for `epoll_wait` results.
    struct EventBuffer {
        let capacity: Int
        private let events: UnsafeMutableBufferPointer<UInt32>
        private let tokens: UnsafeMutableBufferPointer<UInt64>

        init(capacity: Int) {
            self.capacity = min(capacity, 256)
            events = .allocate(capacity: self.capacity)
            tokens = .allocate(capacity: self.capacity)
        }

        func deallocate() {
            events.deallocate()
            tokens.deallocate()
        }

        /// Calls `epoll_wait` and returns the ready events as (events, token) pairs.
        func wait(_ epollFD: Int32, timeout: Int32) -> [(events: UInt32, token: UInt64)] {
            let count = particle_epoll_wait(
                epollFD, events.baseAddress, tokens.baseAddress, Int32(capacity), timeout)
            guard count > 0 else { return [] }
            return (0..<Int(count)).map { (events[$0], tokens[$0]) }
        }
    }
}
