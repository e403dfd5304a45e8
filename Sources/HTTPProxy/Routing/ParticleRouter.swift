import Control
import Support

/// Routes requests by host name: `<name>-<port>-<acct>.<domain>` and `<name>-<acct>.<domain>`
/// go to that particle's guest port; anything else gets a 404 page.
///
/// A request for a sleeping particle (or a stopped one whose idle policy lets use start it)
/// wakes it and is held until the guest's port accepts, at most `wakeHold`; every request that
/// arrives meanwhile waits for the same wake. Past the hold the client gets a 504 page that
/// says the particle is starting and refreshes itself in a browser.
public struct ParticleRouter: HTTPResponder {
    let control: Control
    let logger: Logger
    let wakeHold: Duration

    public init(control: Control, logger: Logger, wakeHold: Duration = .seconds(30)) {
        self.control = control
        self.logger = logger
        self.wakeHold = wakeHold
    }

    public func route(_ head: HTTPRequestHead) async -> HTTPAction {
        guard !head.host.isEmpty else {
            return .respond(
                ErrorPage.response(
                    status: 400, title: "Missing Host",
                    message: "The request has no Host header, so it names no particle. Send"
                        + " Host: <name>-<account>.<domain>.", for: head))
        }
        let destination: ProxyDestination
        do {
            destination = try await control.resolveHost(head.host)
        } catch let error as ControlError where error.code == .notFound {
            return .respond(
                ErrorPage.response(
                    status: 404, title: "No particle here",
                    message: "No particle answers at \(head.host). Check the name, the port and"
                        + " the account id in the host name (`ls` and `whoami` show them).",
                    for: head))
        } catch {
            logger.error("route lookup failed", ["host": head.host, "error": "\(error)"])
            return .respond(
                ErrorPage.response(
                    status: 500, title: "Internal error",
                    message: "The proxy could not look up \(head.host). Try again shortly.", for: head))
        }

        let particle = destination.particle
        let port = destination.port
        let control = self.control
        let activity = control.activity
        let hold = wakeHold
        let activityID = Locked<UInt64?>(nil)
        let upgrade = head.headers["upgrade"].map { " (upgrade: \($0))" } ?? ""
        let detail = "\(head.method) \(head.target.prefix(80))\(upgrade)"
        return .proxy(
            ProxyTarget(
                connect: { try await control.connectWaking(to: destination, hold: hold) },
                onStart: { activityID.withLock { $0 = activity.begin(particle.id, .http, detail: detail) } },
                onFinish: {
                    if let id = activityID.withLock({ $0.take() }) { activity.end(particle.id, id: id) }
                },
                unavailable: { error in
                    Self.unavailablePage(particle: particle, port: port, error: error, head: head)
                }))
    }

    static func unavailablePage(particle: Particle, port: Int, error: any Error, head: HTTPRequestHead)
        -> HTTPResponse
    {
        if Control.isWakeTimeout(error) {
            var response = ErrorPage.response(
                status: 504, title: "Particle is starting",
                message: "Particle '\(particle.name)' is starting and did not answer on port \(port)"
                    + " in time. This page reloads by itself until it does.", for: head)
            response.headers.add(name: "Retry-After", value: "2")
            response.headers.add(name: "Refresh", value: "2")
            return response
        }
        if let error = error as? ControlError, Control.isWakeFailure(error) {
            var response = ErrorPage.response(
                status: 503, title: "Particle could not start",
                message: "Particle '\(particle.name)' could not be started or woken: \(error.message)", for: head)
            response.headers.add(name: "Retry-After", value: "10")
            return response
        }
        // Not woken by use (stopped under `on` or `none`), or a wake that failed.
        if let error = error as? ControlError, error.code == .invalidState || error.code == .internal,
            particle.status != .running
        {
            return ErrorPage.response(
                status: 503, title: "Particle is \(particle.status.rawValue)",
                message: "Particle '\(particle.name)' is \(particle.status.rawValue). Start it with"
                    + " `start \(particle.name)`.", for: head)
        }
        if let error = error as? ProxyError {
            switch error.code {
            case .timedOut:
                return ErrorPage.response(
                    status: 504, title: "The particle did not respond",
                    message: "Particle '\(particle.name)' accepted the connection on port \(port) but sent"
                        + " no response in time.", for: head)
            case .invalidResponse:
                return ErrorPage.response(
                    status: 502, title: "Invalid response",
                    message: "The server on port \(port) of particle '\(particle.name)' sent a response"
                        + " that is not valid HTTP/1.1 (\(error.message)).", for: head)
            case .connectionLost:
                return ErrorPage.response(
                    status: 502, title: "Connection lost",
                    message: "The server on port \(port) of particle '\(particle.name)' closed the"
                        + " connection before its response was complete.", for: head)
            }
        }
        return ErrorPage.response(
            status: 502, title: "Nothing is listening",
            message: "Particle '\(particle.name)' runs, but nothing accepts connections on its"
                + " port \(port). Start a server on that port in the guest.", for: head)
    }
}
