/// Decides what the server does with each request, from its head alone.
///
/// `route` runs in a task on Swift's cooperative pool, never on an event-loop thread, so it may
/// await other work (a database, waking a particle). Requests on one connection are routed one
/// at a time and in order.
public protocol HTTPResponder: Sendable {
    func route(_ head: HTTPRequestHead) async -> HTTPAction
}

/// What the server does with a request once its head has been routed.
public enum HTTPAction: Sendable {
    /// Sends `response` without reading the request body.
    ///
    /// When the request has a body, the server closes the connection after the response
    /// instead of reading and discarding that body.
    case respond(HTTPResponse)

    /// Reads the whole request body, then sends what `handler` returns.
    ///
    /// The server responds 413 without calling `handler` when the body is longer than `limit`
    /// bytes, and sends `100 Continue` first when an HTTP/1.1 client sent
    /// `Expect: 100-continue`. A request with neither `Content-Length` nor
    /// `Transfer-Encoding` has an empty body (RFC 9112 §6.3), so the server never answers 411.
    case readBody(
        limit: Int, handler: @Sendable (HTTPRequestHead, [UInt8]) async -> HTTPResponse)

    /// Forwards this one request to an upstream and streams the response back.
    ///
    /// Every request is routed on its own: the next request on the same client connection goes
    /// through `route` again, and each forwarded request uses a new upstream connection, which
    /// the server closes when the exchange ends.
    case proxy(ProxyTarget)
}

/// An upstream to forward a request to, with the callbacks the exchange reports to.
public struct ProxyTarget: Sendable {
    /// Returns a connected TCP socket to the upstream; the server takes ownership of it.
    ///
    /// The server switches the socket to non-blocking mode and closes it when the exchange
    /// ends. Throws when the upstream does not accept the connection.
    public var connect: @Sendable () async throws -> Int32
    /// Called before `connect`, when the exchange starts.
    public var onStart: @Sendable () -> Void
    /// Called exactly once for every `onStart`, when the exchange or its upgraded tunnel ends
    /// for any reason (finished, failed, client gone, server shut down).
    public var onFinish: @Sendable () -> Void
    /// The response to send when `connect` throws, or when the upstream fails before the
    /// response head has been sent to the client.
    public var unavailable: @Sendable (any Error) -> HTTPResponse

    public init(
        connect: @escaping @Sendable () async throws -> Int32,
        onStart: @escaping @Sendable () -> Void = {},
        onFinish: @escaping @Sendable () -> Void = {},
        unavailable: @escaping @Sendable (any Error) -> HTTPResponse
    ) {
        self.connect = connect
        self.onStart = onStart
        self.onFinish = onFinish
        self.unavailable = unavailable
    }
}
