// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Particle",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "particled", targets: ["particled"]),
    ],
    targets: [
        .systemLibrary(
            name: "CLibSSH", pkgConfig: "libssh", providers: [.apt(["libssh-dev"])]),
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        .target(name: "CLinux"),
        .target(name: "Support", dependencies: ["CLinux"]),
        .target(name: "Control", dependencies: ["Support", "CSQLite", "COpenSSL"]),
        .target(name: "VMM", dependencies: ["Support", "Control", "CLibSSH", "CLinux"]),
        .target(name: "HTTPProxy", dependencies: ["Support", "Control", "CLinux"]),
        .target(name: "API", dependencies: ["Support", "Control", "HTTPProxy"]),
        .target(name: "Gateway", dependencies: ["Support", "Control", "CLibSSH"]),
        .target(name: "Integrations", dependencies: ["Support", "Control", "CCurl"]),
        .executableTarget(
            name: "particled",
            dependencies: [
                "Support", "Control", "VMM", "HTTPProxy", "API", "Gateway", "Integrations",
            ]),

        .testTarget(name: "SupportTests", dependencies: ["Support"]),
        .testTarget(name: "ControlTests", dependencies: ["Control"]),
        .testTarget(name: "VMMTests", dependencies: ["VMM"]),
        .testTarget(name: "HTTPProxyTests", dependencies: ["HTTPProxy", "Support"]),
        .testTarget(name: "APITests", dependencies: ["API"]),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway"]),
        .testTarget(name: "IntegrationsTests", dependencies: ["Integrations"]),
        .testTarget(name: "ParticledTests", dependencies: ["particled"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Support", "COpenSSL"]),
    ]
)
