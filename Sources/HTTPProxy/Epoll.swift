import Glibc

/// epoll(7) and eventfd(2) for the event loop.
///
/// Swift's Glibc module does not export `<sys/epoll.h>` or `<sys/eventfd.h>`, so the functions
/// are looked up with `dlsym` and called through C function pointers, and the constants are
/// the Linux ABI values from those headers.
enum Epoll {
    static let input: UInt32 = 0x001
    static let output: UInt32 = 0x004
    static let error: UInt32 = 0x008
    static let hangUp: UInt32 = 0x010
    static let readHangUp: UInt32 = 0x2000
    static let edgeTriggered: UInt32 = 1 << 31

    static let controlAdd: Int32 = 1
    static let controlDelete: Int32 = 2

    /// `struct epoll_event` is packed to 12 bytes on x86-64 and padded to 16 elsewhere.
    #if arch(x86_64)
        static let eventStride = 12
        static let dataOffset = 4
    #else
        static let eventStride = 16
        static let dataOffset = 8
    #endif

    private typealias CreateFunction = @convention(c) (Int32) -> Int32
    private typealias ControlFunction =
        @convention(c) (
            Int32, Int32, Int32, UnsafeMutableRawPointer?
        ) -> Int32
    private typealias WaitFunction =
        @convention(c) (
            Int32, UnsafeMutableRawPointer?, Int32, Int32
        ) -> Int32
    private typealias EventFDFunction = @convention(c) (UInt32, Int32) -> Int32

    private static func lookUp<T>(_ name: String, as type: T.Type) -> T {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else {
            fatalError("the C library has no \(name); the HTTP server needs Linux")
        }
        return unsafeBitCast(symbol, to: type)
    }

    private static let createFunction = lookUp("epoll_create1", as: CreateFunction.self)
    private static let controlFunction = lookUp("epoll_ctl", as: ControlFunction.self)
    private static let waitFunction = lookUp("epoll_wait", as: WaitFunction.self)
    private static let eventFDFunction = lookUp("eventfd", as: EventFDFunction.self)

    /// Calls `epoll_create1(EPOLL_CLOEXEC)`.
    static func create() -> Int32 {
        createFunction(O_CLOEXEC)
    }

    /// Calls `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`.
    static func createEventFD() -> Int32 {
        eventFDFunction(0, O_CLOEXEC | O_NONBLOCK)
    }

    /// Calls `epoll_ctl` with an event carrying `events` and `token` as its data.
    static func control(
        _ epollFD: Int32, _ operation: Int32, _ fd: Int32, events: UInt32, token: UInt64
    ) -> Int32 {
        var event = [UInt8](repeating: 0, count: eventStride)
        return event.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: events, toByteOffset: 0, as: UInt32.self)
            bytes.storeBytes(of: token, toByteOffset: dataOffset, as: UInt64.self)
            return controlFunction(epollFD, operation, fd, bytes.baseAddress)
        }
    }

    /// A buffer for `epoll_wait` results.
    struct EventBuffer {
        let capacity: Int
        private let storage: UnsafeMutableRawBufferPointer

        init(capacity: Int) {
            self.capacity = capacity
            storage = .allocate(byteCount: capacity * Epoll.eventStride, alignment: 8)
        }

        func deallocate() { storage.deallocate() }

        /// Calls `epoll_wait` and returns the ready events as (events, token) pairs.
        func wait(_ epollFD: Int32, timeout: Int32) -> [(events: UInt32, token: UInt64)] {
            let count = Epoll.waitFunction(epollFD, storage.baseAddress, Int32(capacity), timeout)
            guard count > 0 else { return [] }
            return (0..<Int(count)).map { index in
                let base = index * Epoll.eventStride
                return (
                    storage.loadUnaligned(fromByteOffset: base, as: UInt32.self),
                    storage.loadUnaligned(fromByteOffset: base + Epoll.dataOffset, as: UInt64.self)
                )
            }
        }
    }
}
