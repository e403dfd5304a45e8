import Foundation
import Glibc
import Synchronization

/// A tiny blocking upstream server on 127.0.0.1 port 0 that runs `handler` per connection,
/// each on its own thread.
final class TestUpstream: Sendable {
    let fd: Int32
    let port: Int
    private let heads = Mutex<[String]>([])

    init(_ handler: @escaping @Sendable (BlockingSocket, TestUpstream) throws -> Void) throws {
        (fd, port) = try Self.listen()
        let fd = fd
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                Thread.detachNewThread { [self] in
                    let socket = BlockingSocket(fd: client)
                    try? handler(socket, self)
                    socket.close()
                }
            }
        }
    }

    /// The request heads read through `readRequestHead`, in arrival order.
    var requestHeads: [String] { heads.withLock { $0 } }

    /// Reads a request head and records it.
    func readRequestHead(_ socket: BlockingSocket) throws -> String {
        let head = try socket.readHead()
        heads.withLock { $0.append(head) }
        return head
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }

    static func listen() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && Glibc.listen(fd, 64) == 0
                    && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw TestFailure("test upstream failed to listen: errno \(errno)") }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}

/// The value of header `name` in a raw head, or nil.
func headerValue(_ name: String, in head: String) -> String? {
    for line in head.components(separatedBy: "\r\n").dropFirst() {
        let pieces = line.split(separator: ":", maxSplits: 1)
        if pieces.count == 2, pieces[0].lowercased() == name.lowercased() {
            return pieces[1].trimmingCharacters(in: .whitespaces)
        }
    }
    return nil
}
