import CLinux
import Control
import Foundation
import Support

/// Opens TCP connections inside Particle's network namespace for the proxy, the gateway and
/// `exec`.
///
/// A socket belongs to the namespace of the thread that created it, so a dedicated thread enters
/// the namespace once (setns(2) affects only the calling thread) and creates every socket there.
/// The connected socket works from any thread afterwards.
public final class NamespaceSockets: Sendable {
    private let thread: BlockingThread

    public init(namespacePath: String) throws {
        let entered = Locked<Int32?>(nil)
        thread = BlockingThread(name: "particle-netns") {
            let fd = open(namespacePath, O_RDONLY | O_CLOEXEC)
            let result = fd >= 0 ? particle_enter_network_namespace(fd) : -1
            let failure = result == 0 ? 0 : errno
            if fd >= 0 { close(fd) }
            entered.value = failure
        }
        let failure = try thread.runAndWait { entered.value }
        if let failure, failure != 0 {
            thread.stop()
            throw ControlError.unavailable(
                "cannot enter network namespace \(namespacePath): \(String(cString: strerror(failure)));"
                    + " particled must run as root")
        }
    }

    deinit {
        thread.stop()
    }

    /// Connects to `address:port` in the namespace within `timeout`; the caller owns the socket.
    ///
    /// Only the socket is made on the namespace's thread. The connection is waited for on a
    /// thread of its own, so a guest that is slow to accept never delays another connect.
    public func connect(address: String, port: Int, timeout: Duration = .seconds(3)) async throws
        -> Int32
    {
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, address, &socketAddress.sin_addr) == 1 else {
            throw ControlError.invalidArgument("invalid guest address '\(address)'")
        }
        let fd = try await thread.run {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw ControlError.unavailable("socket() failed: errno \(errno)") }
            return fd
        }
        let target = socketAddress
        return try await onNewThread(name: "particle-connect") {
            try Self.connectBlocking(fd, to: target, port: port, address: address, timeout: timeout)
        }
    }

    /// Connects the non-blocking socket `fd` and waits for the result; closes it on failure.
    static func connectBlocking(
        _ fd: Int32, to target: sockaddr_in, port: Int, address: String, timeout: Duration
    ) throws -> Int32 {
        var socketAddress = target
        let status = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if status != 0 && errno != EINPROGRESS {
            let code = errno
            close(fd)
            throw connectError(address, port, code)
        }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&poller, 1, milliseconds)
        var socketError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length)
        guard ready == 1, socketError == 0 else {
            close(fd)
            throw connectError(address, port, ready == 0 ? ETIMEDOUT : socketError)
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    private static func connectError(_ address: String, _ port: Int, _ code: Int32) -> ControlError {
        .unavailable("nothing accepts connections on port \(port) of the guest (\(String(cString: strerror(code))))")
    }
}
