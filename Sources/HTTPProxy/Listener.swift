import Glibc
import Support

/// Creating the listening socket.
enum Listener {
    /// Binds and listens on `host:port`; returns the socket and the port actually bound.
    static func bind(host: String, port: Int) throws(HTTPServerError) -> (fd: Int32, port: Int) {
        guard (0...65535).contains(port) else {
            throw .invalidAddress(host: host, port: port, detail: "the port is out of range")
        }
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &results)
        guard status == 0, let address = results else {
            let detail = String(cString: gai_strerror(status))
            throw .invalidAddress(host: host, port: port, detail: detail)
        }
        defer { freeaddrinfo(results) }

        let fd = socket(
            address.pointee.ai_family,
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
                | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else {
            throw .system(operation: "create a socket for \(host):\(port)", code: errno)
        }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard Glibc.bind(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            let code = errno
            Glibc.close(fd)
            if code == EADDRINUSE { throw .addressInUse(host: host, port: port) }
            throw .system(operation: "bind \(host):\(port)", code: code)
        }
        guard listen(fd, 511) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .system(operation: "listen on \(host):\(port)", code: code)
        }
        return (fd, boundPort(fd) ?? port)
    }

    private static func boundPort(_ fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getsockname(fd, $0, &length)
            }
        }
        guard status == 0 else { return nil }
        let family = Int32(storage.ss_family)
        return withUnsafePointer(to: &storage) { pointer in
            switch family {
            case AF_INET:
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin_port))
                }
            case AF_INET6:
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            default:
                nil
            }
        }
    }
}

/// Accepts connections on the listening socket and hands them to the loops round-robin.
final class Acceptor: EventHandler, @unchecked Sendable {
    // @unchecked: created on one thread, then used only on loop 0's thread.
    private let fd: Int32
    private let loops: [EventLoop]
    private let context: ServerContext
    private var token: EventLoop.Token?
    private var nextLoop = 0
    private var retryTimer: TimerHeap.ID?

    init(fd: Int32, loops: [EventLoop], context: ServerContext) {
        self.fd = fd
        self.loops = loops
        self.context = context
    }

    func start() {
        token = loops[0].register(fd, handler: self)
        if token == nil { Glibc.close(fd) }
    }

    func handleEvents(_ events: UInt32) {
        acceptAll()
    }

    func loopStopped() {
        if let retryTimer { loops[0].cancelTimer(retryTimer) }
        if let token { loops[0].deregister(fd, token: token) }
        token = nil
        Glibc.close(fd)
    }

    private func acceptAll() {
        guard token != nil else { return }
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(fd, $0, &length)
                }
            }
            if client >= 0 {
                // accept4 is not exported by Swift's Glibc module, so set the flags afterwards.
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                guard Socket.setNonBlocking(client) else {
                    Glibc.close(client)
                    continue
                }
                hand(client, remoteAddress: Socket.address(of: storage))
                continue
            }
            switch errno {
            case EINTR, ECONNABORTED, EPROTO:
                continue
            case EAGAIN, EWOULDBLOCK:
                return
            case let code:
                // Out of descriptors or memory: the pending connections stay in the backlog, and
                // edge-triggered epoll reports no new event for them, so retry on a timer.
                context.logger.warning(
                    "accept failed", ["error": Socket.describe(code), "errno": "\(code)"])
                scheduleRetry()
                return
            }
        }
    }

    private func scheduleRetry() {
        guard retryTimer == nil else { return }
        retryTimer = loops[0].scheduleTimer(at: EventLoop.now() + 100_000_000) { [self] in
            retryTimer = nil
            acceptAll()
        }
    }

    private func hand(_ client: Int32, remoteAddress: String) {
        Socket.setNoDelay(client)
        let loop = loops[nextLoop % loops.count]
        nextLoop += 1
        let context = context
        let queued = loop.execute {
            Connection(fd: client, loop: loop, context: context, remoteAddress: remoteAddress)
                .start()
        }
        if !queued { Glibc.close(client) }
    }
}
