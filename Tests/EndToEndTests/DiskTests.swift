import Foundation
import Support
import Testing

/// Snapshots, restore, duplicate, resize and rebuild over REST, checked from inside real guests.
@Suite(.serialized) struct DiskTests {
    @Test func snapshotsDuplicateResizeRebuild() throws {
        let harness = try ParticledHarness()
        defer { harness.stop() }
        try harness.start()
        let key = try #require(try harness.createAccount(keyPath: harness.keyPath).object()["api_key"] as? String)
        func exec(_ name: String, _ command: String) throws -> String {
            let result = try harness.api(
                "POST", "/v1/particles/\(name)/exec", key: key, json: try jsonText(["command": command]))
            return (try result.object()["output"] as? String) ?? "exec failed: \(result.body)"
        }

        let created = try harness.api("POST", "/v1/particles", key: key, json: #"{"name": "d1"}"#)
        try #require(created.status == 201, "create: \(created.body)")
        #expect(try exec("d1", "echo one > /root/marker; sync; cat /root/marker") == "one\n")

        // A snapshot of the running guest, then the file is removed.
        let snapshot = try harness.api("POST", "/v1/particles/d1/snapshots", key: key, json: #"{"name": "s1"}"#)
        #expect(snapshot.status == 201, "snapshot: \(snapshot.body)")
        let snapshotObject = try snapshot.object()
        #expect((snapshotObject["id"] as? String)?.hasPrefix("snap_") == true)
        #expect((snapshotObject["size_bytes"] as? Int ?? 0) > 1 << 20)
        #expect(try harness.api("POST", "/v1/particles/d1/snapshots", key: key, json: #"{"name": "s1"}"#).status == 409)
        #expect(try exec("d1", "rm /root/marker; sync; ls /root/marker 2>&1; true").contains("No such file"))

        let listed = try harness.api("GET", "/v1/particles/d1/snapshots", key: key).object()
        #expect((listed["snapshots"] as? [[String: Any]])?.map { $0["name"] as? String } == ["s1"])
        let notStopped = try harness.api("POST", "/v1/particles/d1/snapshots/s1/restore", key: key)
        #expect(notStopped.status == 409)
        #expect(notStopped.errorMessage.contains("must be stopped to restore a snapshot"))
        let resizeRunning = try harness.api("PUT", "/v1/particles/d1/resize", key: key, json: #"{"size": "p2"}"#)
        #expect(resizeRunning.status == 409)
        #expect(resizeRunning.errorMessage == "particle 'd1' must be stopped to resize; it is running, run `stop d1` first")

        #expect(try harness.api("POST", "/v1/particles/d1/stop", key: key).status == 200)
        let restored = try harness.api("POST", "/v1/particles/d1/snapshots/s1/restore", key: key)
        #expect(restored.status == 200)
        #expect(try restored.object()["status"] as? String == "restored")
        #expect(try harness.api("POST", "/v1/particles/d1/snapshots/nope/restore", key: key).status == 404)

        let copy = try harness.api("POST", "/v1/particles/d1/duplicate", key: key, json: #"{"name": "d2"}"#)
        #expect(copy.status == 201, "duplicate: \(copy.body)")
        #expect(try copy.object()["status"] as? String == "stopped")
        let resized = try harness.api("PUT", "/v1/particles/d1/resize", key: key, json: #"{"size": "p2"}"#)
        #expect(try resized.object()["size"] as? String == "p2")
        #expect(try harness.api("PUT", "/v1/particles/d1/resize", key: key, json: #"{"size": "p3"}"#).status == 422)

        // The restored, resized guest has its file back, 2 vCPUs and a grown root file system.
        let started = try harness.api("POST", "/v1/particles/d1/start", key: key)
        try #require(started.status == 200, "start: \(started.body)\n\(harness.log.suffix(2000))")
        #expect(try exec("d1", "cat /root/marker") == "one\n")
        #expect(try exec("d1", "nproc") == "2\n")
        let rootBytes = Int(try exec("d1", "sleep 3; df --output=size -B1 / | tail -1").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(rootBytes > 15 << 30, "root file system \(rootBytes) bytes")

        // The copy has the same data, its own name and address.
        #expect(try harness.api("POST", "/v1/particles/d2/start", key: key).status == 200)
        #expect(try exec("d2", "cat /root/marker; hostname") == "one\nd2\n")
        #expect(try exec("d2", "ip -4 -o addr show eth0") != (try exec("d1", "ip -4 -o addr show eth0")))
        #expect(try harness.api("DELETE", "/v1/particles/d2", key: key).status == 204)

        // A rebuild starts from a fresh image: the file is gone, and so are the snapshots.
        #expect(try harness.api("POST", "/v1/particles/d1/stop", key: key).status == 200)
        let rebuilt = try harness.api("POST", "/v1/particles/d1/rebuild", key: key)
        #expect(rebuilt.status == 200, "rebuild: \(rebuilt.body)")
        #expect(try harness.api("POST", "/v1/particles/d1/rebuild?image=nope", key: key).status == 422)
        #expect((try harness.api("GET", "/v1/particles/d1/snapshots", key: key).object()["snapshots"] as? [Any])?.isEmpty == true)
        #expect(try harness.api("POST", "/v1/particles/d1/start", key: key).status == 200)
        #expect(try exec("d1", "cat /root/marker 2>&1; hostname").contains("No such file"))

        let second = try harness.api("POST", "/v1/particles/d1/snapshots", key: key, json: #"{"name": "s2"}"#)
        #expect(second.status == 201)
        let deleted = try harness.api("DELETE", "/v1/particles/d1/snapshots/s2", key: key)
        #expect(deleted.status == 204)
        #expect(try harness.api("DELETE", "/v1/particles/d1/snapshots/s2", key: key).status == 404)
    }
}
