import Glibc

/// Thin wrappers over the socket calls the event loop makes, with `errno` turned into values.
enum Socket {
    enum ReadOutcome {
        case read(Int)
        case wouldBlock
        case endOfFile
        case failed(Int32)
    }

    enum WriteOutcome {
        /// Bytes written; `OutputQueue.write` reports 0 once everything queued is written.
        case written(Int)
        case wouldBlock
        case failed(Int32)
    }

    /// Reads once from `fd` into `scratch` and appends what arrived to `buffer`.
    static func read(
        _ fd: Int32, into buffer: inout ByteBuffer, scratch: UnsafeMutableRawBufferPointer
    ) -> ReadOutcome {
        while true {
            let n = Glibc.read(fd, scratch.baseAddress, scratch.count)
            if n > 0 {
                buffer.append(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                return .read(n)
            }
            if n == 0 { return .endOfFile }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case let code: return .failed(code)
            }
        }
    }

    /// Writes once to `fd`; MSG_NOSIGNAL turns a closed peer into EPIPE instead of SIGPIPE.
    static func write(_ fd: Int32, _ data: UnsafeRawBufferPointer) -> WriteOutcome {
        while true {
            let n = send(fd, data.baseAddress, data.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .written(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case let code: return .failed(code)
            }
        }
    }

    /// Puts `fd` in non-blocking mode.
    static func setNonBlocking(_ fd: Int32) -> Bool {
        let flags = fcntl(fd, F_GETFL)
        return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0
    }

    /// Disables Nagle's algorithm, so that small responses leave without delay.
    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(
            fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// The numeric address of a peer, without its port (`127.0.0.1`, `::1`).
    static func address(of storage: sockaddr_storage) -> String {
        var storage = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            withUnsafePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var ip = address.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &ip, &text, socklen_t(text.count))
                }
            }
        case AF_INET6:
            withUnsafePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var ip = address.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &ip, &text, socklen_t(text.count))
                }
            }
        default:
            return "unknown"
        }
        return String(
            decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The text of an `errno` value, for log lines and error messages.
    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
