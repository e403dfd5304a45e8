/// The version of this build, as `GET /v1/cli/version` returns it.
public enum ParticleVersion {
    public static let current = "0.1.0"
}
