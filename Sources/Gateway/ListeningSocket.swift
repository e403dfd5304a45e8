import Foundation
import Glibc

/// A TCP socket listening on one address, created before libssh handles any connection.
///
/// The server owns the listening socket itself (rather than letting `ssh_bind_listen` open it)
/// so that it can report the port picked for port 0, name the address in errors, and wake the
/// accept loop for shutdown.
struct ListeningSocket {
    let fd: Int32
    /// The bound port, which is the kernel's choice when 0 was requested.
    let port: Int

    /// Opens, binds and listens on `host:port`; `host` is a numeric IPv4 or IPv6 address.
    static func open(host: String, port: Int, backlog: Int32 = 128) throws -> ListeningSocket {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let address = result else {
            let cause = String(cString: gai_strerror(status))
            throw GatewayError.listenFailed(
                host: host, port: port, cause: "invalid numeric address: \(cause)")
        }
        defer { freeaddrinfo(result) }

        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = socket(address.pointee.ai_family, type, 0)
        guard fd >= 0 else {
            throw GatewayError.listenFailed(host: host, port: port, cause: errnoText())
        }
        var enabled: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &enabled, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            let code = errno
            let cause = errnoText()
            close(fd)
            if code == EADDRINUSE { throw GatewayError.addressInUse(host: host, port: port) }
            throw GatewayError.listenFailed(host: host, port: port, cause: cause)
        }
        guard listen(fd, backlog) == 0 else {
            let cause = errnoText()
            close(fd)
            throw GatewayError.listenFailed(host: host, port: port, cause: cause)
        }
        return ListeningSocket(fd: fd, port: boundPort(of: fd) ?? port)
    }

    private static func boundPort(of fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getsockname(fd, $0, &length)
            }
        }
        guard status == 0 else { return nil }
        return socketAddressText(storage).port
    }
}

/// Splits a socket address into its numeric host text and port.
func socketAddressText(_ storage: sockaddr_storage) -> (host: String, port: Int) {
    var storage = storage
    var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
    var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
    let status = withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            getnameinfo(
                $0, socklen_t(MemoryLayout<sockaddr_storage>.size), &host, socklen_t(host.count),
                &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
        }
    }
    guard status == 0 else { return ("unknown", 0) }
    let hostText = host.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    let serviceText = service.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return (hostText, Int(serviceText) ?? 0)
}

/// Returns the peer of a connected socket as `host:port` (`[host]:port` for IPv6).
func peerAddress(of fd: Int32) -> (host: String, text: String) {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let status = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
    }
    guard status == 0 else { return ("unknown", "unknown") }
    let (host, port) = socketAddressText(storage)
    return (host, formatAddress(host, port))
}
