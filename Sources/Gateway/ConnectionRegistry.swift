import CLibSSH  // SHUT_RDWR is visible only through the socket headers that libssh includes.
import Foundation
import Glibc

/// The connections being served, counted in total and per source address.
///
/// A session unregisters before libssh closes its socket, so `disconnectAll()` never shuts
/// down a descriptor number that has been reused by another file.
final class ConnectionRegistry: @unchecked Sendable {  // All state is guarded by `condition`.
    enum Rejection: String {
        case tooManyConnections = "too many connections"
        case tooManyFromAddress = "too many connections from this address"
    }

    private struct Entry {
        let fd: Int32
        let host: String
        /// The fingerprint of the key the connection authenticated with, once it counts
        /// against that key's session limit.
        var key: String?
    }

    private let condition = NSCondition()
    private var entries: [Int: Entry] = [:]
    private var countsByHost: [String: Int] = [:]
    private var countsByKey: [String: Int] = [:]
    private var nextID = 1
    private let maxConnections: Int
    private let maxPerAddress: Int

    init(maxConnections: Int, maxPerAddress: Int) {
        self.maxConnections = maxConnections
        self.maxPerAddress = maxPerAddress
    }

    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return entries.count
    }

    /// Records a new connection and returns its id, or the limit it would exceed.
    func register(fd: Int32, host: String) -> Result<Int, RegistryRejection> {
        condition.lock()
        defer { condition.unlock() }
        guard entries.count < maxConnections else {
            return .failure(RegistryRejection(reason: .tooManyConnections))
        }
        guard countsByHost[host, default: 0] < maxPerAddress else {
            return .failure(RegistryRejection(reason: .tooManyFromAddress))
        }
        let id = nextID
        nextID += 1
        entries[id] = Entry(fd: fd, host: host, key: nil)
        countsByHost[host, default: 0] += 1
        return .success(id)
    }

    /// Counts connection `id` as a session of `key` unless the key already has `limit`
    /// sessions; returns whether it was counted.
    func claim(key: String, for id: Int, limit: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard entries[id] != nil, entries[id]?.key == nil else { return false }
        guard countsByKey[key, default: 0] < limit else { return false }
        countsByKey[key, default: 0] += 1
        entries[id]?.key = key
        return true
    }

    func unregister(_ id: Int) {
        condition.lock()
        defer { condition.unlock() }
        guard let entry = entries.removeValue(forKey: id) else { return }
        countsByHost[entry.host, default: 1] -= 1
        if countsByHost[entry.host] == 0 { countsByHost[entry.host] = nil }
        if let key = entry.key {
            countsByKey[key, default: 1] -= 1
            if countsByKey[key] == 0 { countsByKey[key] = nil }
        }
        condition.broadcast()
    }

    /// Shuts down every registered socket, which wakes each session thread out of its poll
    /// with an error so that it ends. Returns the number of connections.
    func disconnectAll() -> Int {
        condition.lock()
        defer { condition.unlock() }
        for entry in entries.values {
            shutdown(entry.fd, Int32(SHUT_RDWR))
        }
        return entries.count
    }

    /// Waits until every connection has unregistered; returns false on timeout.
    func waitUntilEmpty(timeout: Duration) -> Bool {
        let seconds =
            Double(timeout.components.seconds)
            + Double(timeout.components.attoseconds) / 1e18
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while !entries.isEmpty {
            if !condition.wait(until: deadline) { return entries.isEmpty }
        }
        return true
    }
}

/// The limit that made the registry reject a connection.
struct RegistryRejection: Error {
    let reason: ConnectionRegistry.Rejection
}
