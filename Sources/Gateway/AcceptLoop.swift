import CLibSSH
import Foundation
import Glibc
import Support

/// The thread that accepts TCP connections and hands each one to a new session thread.
final class AcceptLoop: @unchecked Sendable {  // `bind` is used only on the accept thread.
    private let listener: ListeningSocket
    private let bind: ssh_bind
    private let server: SSHServer
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let done = DispatchSemaphore(value: 0)

    init(listener: ListeningSocket, hostKeys: HostKeys, server: SSHServer) throws {
        guard let bind = ssh_bind_new() else {
            throw GatewayError.listenFailed(
                host: server.configuration.host, port: listener.port, cause: "ssh_bind_new failed")
        }
        var processConfig = false
        ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &processConfig)
        for path in hostKeys.paths
        where ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY, path) != SSH_OK {
            let cause = libsshError(bind)
            ssh_bind_free(bind)
            throw GatewayError.hostKey(path: path, "libssh cannot load it", cause: cause)
        }

        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            ssh_bind_free(bind)
            throw GatewayError.listenFailed(
                host: server.configuration.host, port: listener.port, cause: errnoText())
        }
        self.listener = listener
        self.bind = bind
        self.server = server
        self.wakeRead = pipeFDs[0]
        self.wakeWrite = pipeFDs[1]
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }

    func start() {
        let thread = Thread { [self] in
            run()
            ssh_bind_free(bind)
            close(listener.fd)
            close(wakeRead)
            done.signal()
        }
        thread.name = "ssh-accept"
        thread.start()
    }

    /// Wakes the accept thread, waits for it to close the listening socket, then closes the pipe.
    func stop() {
        var byte: UInt8 = 0
        _ = write(wakeWrite, &byte, 1)
        done.wait()
        close(wakeWrite)
    }

    private func run() {
        var descriptors = [
            pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let ready = poll(&descriptors, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                server.logger.error("accept loop poll failed", ["error": errnoText()])
                return
            }
            if descriptors[1].revents != 0 { return }
            if descriptors[0].revents != 0 { acceptConnection() }
        }
    }

    private func acceptConnection() {
        // Glibc's Swift module does not export accept4(2), so close-on-exec is set after
        // accept; a process spawned in between could inherit the socket.
        let fd = accept(listener.fd, nil, nil)
        guard fd >= 0 else {
            let code = errno
            if code == EMFILE || code == ENFILE || code == ENOMEM || code == ENOBUFS {
                // The pending connection stays queued; pause so that the loop does not spin.
                server.logger.error("accept failed", ["error": errnoText()])
                usleep(100_000)
            }
            return
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let peer = peerAddress(of: fd)
        switch server.connections.register(fd: fd, host: peer.host) {
        case .failure(let rejection):
            server.logger.warning(
                "connection rejected", ["peer": peer.text, "reason": rejection.reason.rawValue])
            refuse(fd, reason: rejection.reason)
        case .success(let id):
            startSession(fd: fd, id: id, host: peer.host, peer: peer.text)
        }
    }

    /// Sends the reason as a line before the SSH version line and closes the connection.
    ///
    /// RFC 4253 section 4.2 lets a server send such lines; OpenSSH shows them with `ssh -v`
    /// ("banner line 0: ..."), and otherwise only "Connection closed by remote host". A key
    /// exchange, which could carry a disconnect message, costs too much at a connection limit.
    private func refuse(_ fd: Int32, reason: ConnectionRegistry.Rejection) {
        let line = Array("\(reason.rawValue); close some connections and retry\r\n".utf8)
        _ = line.withUnsafeBytes {
            send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
        }
        close(fd)
    }

    private func startSession(fd: Int32, id: Int, host: String, peer: String) {
        var enabled: Int32 = 1
        setsockopt(
            fd, Int32(IPPROTO_TCP), TCP_NODELAY, &enabled, socklen_t(MemoryLayout<Int32>.size))
        guard let session = ssh_new() else {
            server.logger.error("ssh_new failed", ["peer": peer])
            server.connections.unregister(id)
            close(fd)
            return
        }
        guard ssh_bind_accept_fd(bind, session, fd) == SSH_OK else {
            server.logger.error(
                "ssh_bind_accept_fd failed", ["peer": peer, "error": libsshError(bind)])
            // NOTE: libssh 0.10 does not document whether it kept the descriptor on this path.
            // It is shut down (the client gets a hang-up) and left to ssh_free so that it is
            // never closed twice, which leaks it if libssh did not keep it.
            shutdown(fd, Int32(SHUT_RDWR))
            server.connections.unregister(id)
            ssh_free(session)
            return
        }

        let connection = SSHSession(
            session: session, fd: fd, registryID: id, host: host, peer: peer, server: server)
        let thread = Thread { connection.run() }
        thread.name = "ssh-session"
        thread.stackSize = 1 << 20
        thread.start()
    }
}
