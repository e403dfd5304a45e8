/// A client's public key as offered during public-key authentication.
public struct SSHPublicKeyInfo: Sendable, Hashable {
    /// The key type as OpenSSH names it, such as `ssh-ed25519` or `ecdsa-sha2-nistp256`.
    public var algorithm: String
    /// The key blob in base64, as in the second field of an `authorized_keys` line.
    public var base64: String
    /// The SHA-256 fingerprint in the form `ssh-keygen -lf` prints, such as `SHA256:abc...`.
    public var fingerprint: String

    public init(algorithm: String, base64: String, fingerprint: String) {
        self.algorithm = algorithm
        self.base64 = base64
        self.fingerprint = fingerprint
    }

    /// The key as one OpenSSH public key line without a comment: `algorithm base64`.
    public var openSSHLine: String { "\(algorithm) \(base64)" }
}

/// The authenticated party of an SSH session, built by the handler when it accepts a key.
public struct SSHIdentity: Sendable, Hashable {
    /// The opaque account id that the handler resolved the key to.
    public var accountID: String
    /// The SHA-256 fingerprint of the key that authenticated the session.
    public var keyFingerprint: String
    /// The user name the client sent (`ssh user@host`).
    public var user: String

    public init(accountID: String, keyFingerprint: String, user: String) {
        self.accountID = accountID
        self.keyFingerprint = keyFingerprint
        self.user = user
    }
}

/// The application behind the SSH server: it decides who may log in and runs their requests.
///
/// Every method runs on the thread that owns the SSH session, so a method that blocks delays
/// only its own session. Use `blockingAwait` from `Support` to call async code.
public protocol SSHSessionHandler: Sendable {
    /// Maps a public key to an identity, or returns nil to reject the key.
    ///
    /// The server calls it only after libssh has verified the client's signature with this key
    /// (`SSH_PUBLICKEY_STATE_VALID`), never for an unsigned probe. `peer` is `address:port`.
    func authenticate(_ key: SSHPublicKeyInfo, user: String, peer: String) -> SSHIdentity?

    /// Runs one exec request (`ssh host COMMAND`) and returns the exit status sent to the client.
    ///
    /// `command` is the raw command string, unsplit. Standard input, output and error go
    /// through `io`; the channel is closed after the method returns.
    func exec(_ command: String, identity: SSHIdentity, io: SSHCommandIO) -> Int32

    /// Runs a shell request (`ssh host` without a command) and returns its exit status.
    ///
    /// `io.pseudoTerminal` is set when the client requested a terminal.
    func shell(identity: SSHIdentity, io: SSHCommandIO) -> Int32

    /// Decides whether to accept a subsystem request (`sftp`, `ssh -s NAME`) before the server
    /// replies; a rejected one shows as "subsystem request failed" in OpenSSH. The default
    /// implementation rejects every subsystem.
    func acceptsSubsystem(_ name: String, identity: SSHIdentity) -> Bool

    /// Runs an accepted subsystem request and returns its exit status.
    func subsystem(_ name: String, identity: SSHIdentity, io: SSHCommandIO) -> Int32

    /// Opens the far end of a `direct-tcpip` channel (`ssh -W host:port`, `ssh -J`) to
    /// `host:port` as the client sent them, or rejects the target.
    ///
    /// The session relays the channel to the returned socket until either side closes, then
    /// calls the endpoint's `close`. The default implementation rejects every target.
    func openTunnel(host: String, port: Int, identity: SSHIdentity)
        -> Result<SSHTunnelEndpoint, TunnelRejection>
}

extension SSHSessionHandler {
    /// Rejects every subsystem, for handlers that offer none.
    public func acceptsSubsystem(_ name: String, identity: SSHIdentity) -> Bool { false }

    /// Never called while `acceptsSubsystem` rejects every subsystem; returns status 1.
    public func subsystem(_ name: String, identity: SSHIdentity, io: SSHCommandIO) -> Int32 { 1 }

    /// Rejects every `direct-tcpip` channel, for handlers that offer no forwarding.
    public func openTunnel(host: String, port: Int, identity: SSHIdentity)
        -> Result<SSHTunnelEndpoint, TunnelRejection>
    {
        .failure(TunnelRejection("port forwarding is not offered"))
    }
}

/// The far end of a `direct-tcpip` channel: a connected socket that the session relays to.
public struct SSHTunnelEndpoint: Sendable {
    /// A connected stream socket; the session sets it non-blocking and never closes it itself.
    public let socket: Int32
    /// Closes `socket` and releases whatever the handler tied to it; the session calls it once,
    /// when the channel ends.
    public let close: @Sendable () -> Void

    public init(socket: Int32, close: @escaping @Sendable () -> Void) {
        self.socket = socket
        self.close = close
    }
}

/// The reason a `direct-tcpip` channel was rejected.
///
/// NOTE: libssh 0.10 sends SSH_MSG_CHANNEL_OPEN_FAILURE with an empty description, so the
/// client sees only "administratively prohibited" and `message` reaches only the server log.
public struct TunnelRejection: Error, Sendable, Equatable {
    /// The rejected target and the reason, in words safe to show the caller.
    public var message: String

    public init(_ message: String) {
        self.message = message
    }
}

/// A request that the server rejected where the protocol gives the client no reason to show:
/// OpenSSH sends agent forwarding requests without asking for a reply, and a rejected
/// "tcpip-forward" carries no text. Handlers may explain these on stderr.
public enum SSHRejectedRequest: Sendable, Hashable {
    /// A "tcpip-forward" global request (`ssh -R`) for this listen address.
    case remoteForwarding(address: String)
    /// An "auth-agent-req@openssh.com" channel request (`ssh -A`).
    case agentForwarding
    /// An "x11-req" channel request (`ssh -X`).
    case x11Forwarding
}
