import Foundation
import Support

// particled: the Particle daemon. See README.md for its commands and configuration.

signal(SIGPIPE, SIG_IGN)

let usage = """
    usage: particled [run] [OPTIONS]          run the daemon until SIGTERM or SIGINT
           particled build-image [ID] [OPTIONS]  build a guest image (default debian-12)
           particled --help

    options:
      --config FILE      JSON configuration file (keys in README.md)
      --state-dir DIR    where the database, images and particles live (default /var/lib/particle)
      --ssh-port N       SSH gateway port (default 2222; 0 picks a free port)
      --http-port N      HTTP proxy port, with the API at api.<domain> (default 8080; 0 picks a free port)
      --api-port N       port where every host name reaches the REST API (default 8081)
      --domain NAME      domain of particle host names (default particle.localhost)
      --netns NAME       network namespace for guests (default particle)
      --subnet CIDR      guest subnet inside that namespace (default 10.213.0.0/16)
    """

do {
    let invocation = try Invocation(arguments: Array(CommandLine.arguments.dropFirst()))
    switch invocation.command {
    case .help:
        print(usage)
    case .buildImage(let id):
        try buildImage(id, configuration: invocation.configuration)
    case .run:
        try Daemon(configuration: invocation.configuration).run()
    }
} catch {
    FileHandle.standardError.write(Data("particled: \(error)\n".utf8))
    exit(1)
}
