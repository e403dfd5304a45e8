import Foundation
import Testing

@testable import Control

@Suite struct ValidationTests {
    @Test(arguments: ["web", "a", "my-app-2", String(repeating: "a", count: 40), "0day"])
    func validNames(name: String) throws {
        #expect(try ParticleName.validate(name) == name)
    }

    @Test(arguments: [
        ("Web_1", "invalid name 'Web_1'"), ("", "missing name"),
        (String(repeating: "a", count: 41), "41 characters is too long"),
        ("-web", "invalid name '-web'"), ("web-", "invalid name 'web-'"), ("we b", "invalid name"),
        ("wéb", "invalid name"),
    ])
    func invalidNames(name: String, expected: String) {
        #expect {
            try ParticleName.validate(name)
        } throws: { error in
            let error = error as! ControlError
            return error.code == .invalidArgument && error.message.contains(expected)
                && error.message.contains("lowercase letters")
        }
    }

    @Test func sizes() throws {
        #expect(try ParticleSize.parse("p4").vcpus == 4)
        #expect(ParticleSize.p2.memoryBytes == 4 << 30)
        #expect(ParticleSize.p2.diskBytes == 20 << 30)
        #expect(throws: ControlError.invalidArgument("invalid size 'p3'; use one of p1, p2, p4, p8, p16")) {
            try ParticleSize.parse("p3")
        }
    }

    @Test func addressPool() throws {
        let pool = try AddressPool(cidr: "10.213.0.0/16")
        #expect(pool.gateway == "10.213.0.1")
        #expect(Array(pool.guestAddresses.prefix(2)) == ["10.213.0.2", "10.213.0.3"])
        let small = try AddressPool(cidr: "192.168.7.9/29")
        #expect(small.description == "192.168.7.8/29")
        #expect(Array(small.guestAddresses) == (10...13).map { "192.168.7.\($0)" })
        #expect(small.templateAddress == "192.168.7.14")
        for bad in ["10.0.0.0", "10.0.0.0/31", "10.0.0/16", "300.1.1.1/16", "a/b"] {
            #expect(throws: ControlError.self) { try AddressPool(cidr: bad) }
        }
    }

    @Test func hostRoutes() {
        let account = "0123456789ab"
        let domain = "particle.localhost"
        #expect(
            HostNameRoute.candidates(host: "web-8000-\(account).particle.localhost", domain: domain) == [
                HostNameRoute(name: "web", port: 8000, accountID: account),
                HostNameRoute(name: "web-8000", port: nil, accountID: account),
            ])
        #expect(
            HostNameRoute.candidates(host: "WEB-\(account).Particle.Localhost", domain: domain) == [
                HostNameRoute(name: "web", port: nil, accountID: account)
            ])
        for host in [
            "web-\(account).other.test", "web.\(account).particle.localhost", "\(account).particle.localhost",
            "web-0123456789zz.particle.localhost", "particle.localhost", "web-99999-\(account).particle.localhost",
        ] {
            let candidates = HostNameRoute.candidates(host: host, domain: domain)
            #expect(candidates.allSatisfy { $0.port == nil }, "\(host)")
            if host != "web-99999-\(account).particle.localhost" {
                #expect(candidates.isEmpty, "\(host)")
            }
        }
    }

    @Test func jsonKeepsFieldOrder() {
        let value = JSON.object([("b", .int(1)), ("a", .string("x\"y\n")), ("c", .array([.null, .bool(true)]))])
        #expect(value.serialized() == #"{"b":1,"a":"x\"y\n","c":[null,true]}"#)
        #expect(JSON.time(Date(timeIntervalSince1970: 1_772_798_400)) == .string("2026-03-06T12:00:00Z"))
    }
}
