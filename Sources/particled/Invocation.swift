import Foundation

/// The parsed command line of `particled`.
struct Invocation {
    enum Command: Equatable {
        case run
        case buildImage(String)
        case help
    }

    var command: Command = .run
    var configuration = Configuration()

    init(arguments: [String]) throws {
        var remaining = arguments[...]
        switch remaining.first {
        case "run":
            remaining = remaining.dropFirst()
        case "build-image":
            remaining = remaining.dropFirst()
            var id = "debian-12"
            if let first = remaining.first, !first.hasPrefix("-") {
                id = first
                remaining = remaining.dropFirst()
            }
            command = .buildImage(id)
        case "--help", "-h", "help":
            command = .help
            return
        default:
            break
        }

        var overrides: [(String, String)] = []
        var configPath: String?
        while let option = remaining.popFirst() {
            guard let value = remaining.popFirst() else {
                throw StartupError("missing value for \(option); run `particled --help`")
            }
            if option == "--config" {
                configPath = value
            } else {
                overrides.append((option, value))
            }
        }
        if let configPath {
            configuration = try Configuration.load(path: configPath)
        }
        for (option, value) in overrides {
            try apply(option, value)
        }
        try configuration.validate()
    }

    private mutating func apply(_ option: String, _ value: String) throws {
        func port() throws -> Int {
            guard let number = Int(value) else {
                throw StartupError("invalid \(option) '\(value)'; use a port number 1-65535")
            }
            return number
        }
        switch option {
        case "--state-dir": configuration.stateDirectory = value
        case "--ssh-port": configuration.sshPort = try port()
        case "--http-port": configuration.httpPort = try port()
        case "--api-port": configuration.apiPort = try port()
        case "--domain": configuration.domain = value.lowercased()
        case "--netns": configuration.networkNamespace = value
        case "--subnet": configuration.subnet = value
        default:
            throw StartupError("unknown option '\(option)'; run `particled --help`")
        }
    }
}
