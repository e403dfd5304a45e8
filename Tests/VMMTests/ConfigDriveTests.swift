import Foundation
import Support
import Testing

@testable import VMM

@Suite struct ConfigDriveTests {
    static let drive = ConfigDrive(
        hostname: "web", machineID: "0123456789abcdef0123456789abcdef", address: "10.0.0.7",
        macAddress: "52:54:0a:00:00:07", prefixLength: 24, gateway: "10.0.0.1", dns: ["10.0.0.1", "9.9.9.9"],
        authorizedKeys: [
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAccount account",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlatform platform\n",
        ],
        hostKeyPrivate: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbg==\n"
            + "-----END OPENSSH PRIVATE KEY-----\n",
        hostKeyPublic: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHost host")

    /// Reads one file from an ext4 image without mounting it.
    func readFile(_ path: String, in image: URL) throws -> String {
        try Command.run("debugfs", ["-R", "cat \(path)", image.path]).output
    }

    func withTemporaryFolder(_ body: (URL) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("config-drive-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try body(folder)
    }

    @Test func writeStoresEveryField() throws {
        try withTemporaryFolder { folder in
            let image = folder.appendingPathComponent("config.img")
            try Self.drive.write(to: image)

            #expect(try readFile("/version", in: image) == "1\n")
            #expect(try readFile("/hostname", in: image) == "web\n")
            #expect(try readFile("/machine-id", in: image) == "0123456789abcdef0123456789abcdef\n")
            #expect(try readFile("/network/address", in: image) == "10.0.0.7\n")
            #expect(try readFile("/network/mac", in: image) == "52:54:0a:00:00:07\n")
            #expect(try readFile("/network/prefix-length", in: image) == "24\n")
            #expect(try readFile("/network/gateway", in: image) == "10.0.0.1\n")
            #expect(try readFile("/network/dns", in: image) == "10.0.0.1\n9.9.9.9\n")
            let keys = try readFile("/authorized_keys", in: image)
            #expect(keys.split(separator: "\n").count == 2)
            #expect(keys.hasSuffix("platform\n"))
            #expect(
                try readFile("/ssh/ssh_host_ed25519_key", in: image) == Self.drive.hostKeyPrivate)
            #expect(
                try readFile("/ssh/ssh_host_ed25519_key.pub", in: image)
                    == Self.drive.hostKeyPublic + "\n")
        }
    }

    @Test func writeMakesSmallFastImage() throws {
        try withTemporaryFolder { folder in
            let image = folder.appendingPathComponent("config.img")
            let started = ContinuousClock.now
            try Self.drive.write(to: image)
            let elapsed = ContinuousClock.now - started

            let size = try FileManager.default.attributesOfItem(atPath: image.path)[.size] as? Int
            #expect(size == ConfigDrive.imageBytes)
            #expect(elapsed < .seconds(2))
            let staging = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            #expect(staging == ["config.img"])
        }
    }

    @Test func privateKeyIsRootOnly() throws {
        try withTemporaryFolder { folder in
            let image = folder.appendingPathComponent("config.img")
            try Self.drive.write(to: image)
            let stat = try Command.run(
                "debugfs", ["-R", "stat /ssh/ssh_host_ed25519_key", image.path]
            ).output
            #expect(stat.contains("Mode:  0600"))
            #expect(stat.contains("User:     0"))
        }
    }

    @Test func writeReplacesExistingImage() throws {
        try withTemporaryFolder { folder in
            let image = folder.appendingPathComponent("config.img")
            try Self.drive.write(to: image)
            var renamed = Self.drive
            renamed.hostname = "api"
            try renamed.write(to: image)
            #expect(try readFile("/hostname", in: image) == "api\n")
        }
    }

    /// Drives with one invalid field each, and the field that validation must name.
    static let invalidDrives: [(field: String, drive: ConfigDrive)] = {
        func changed(_ change: (inout ConfigDrive) -> Void) -> ConfigDrive {
            var copy = drive
            change(&copy)
            return copy
        }
        return [
            ("hostname", changed { $0.hostname = "Web" }),
            ("hostname", changed { $0.hostname = "-web" }),
            ("hostname", changed { $0.hostname = "web\nevil" }),
            ("hostname", changed { $0.hostname = String(repeating: "a", count: 64) }),
            ("machineID", changed { $0.machineID = "1234" }),
            ("machineID", changed { $0.machineID = "0123456789ABCDEF0123456789ABCDEF" }),
            ("address", changed { $0.address = "10.0.0.256" }),
            ("gateway", changed { $0.gateway = "10.0.0" }),
            ("dns", changed { $0.dns = ["8.8.8.8\nnameserver 1.1.1.1"] }),
            ("prefixLength", changed { $0.prefixLength = 33 }),
            ("macAddress", changed { $0.macAddress = "52:54:0A:00:00:07" }),
            ("macAddress", changed { $0.macAddress = "52:54:0a:00:00" }),
            ("macAddress", changed { $0.macAddress = "52:54:0a:00:00:07\nlink set lo down" }),
            ("authorizedKeys", changed { $0.authorizedKeys = ["ssh-ed25519 A\nssh-rsa B"] }),
            ("authorizedKeys", changed { $0.authorizedKeys = ["  "] }),
            ("hostKeyPublic", changed { $0.hostKeyPublic = "" }),
            ("hostKeyPrivate", changed { $0.hostKeyPrivate = "secret" }),
        ]
    }()

    @Test(arguments: invalidDrives)
    func validateRejectsField(field: String, drive: ConfigDrive) {
        #expect {
            try drive.validate()
        } throws: { error in
            (error as? ConfigDriveError)?.field == field
        }
    }

    @Test func errorHidesPrivateKey() {
        var drive = Self.drive
        drive.hostKeyPrivate = "not-a-key-but-secret"
        do {
            try drive.validate()
            Issue.record("expected a validation error")
        } catch {
            #expect(!"\(error)".contains("secret"))
        }
    }
}
