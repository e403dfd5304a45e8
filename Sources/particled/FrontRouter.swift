import API
import HTTPProxy

/// Sends requests for `api.<domain>` to the REST API and every other host to the particles.
struct FrontRouter: HTTPResponder {
    let apiHost: String
    let api: APIResponder
    let particles: ParticleRouter

    func route(_ head: HTTPRequestHead) async -> HTTPAction {
        head.host == apiHost ? await api.route(head) : await particles.route(head)
    }
}
