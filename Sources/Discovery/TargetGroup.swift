import OutpostConfig

/// A set of targets that share labels, as every discovery mechanism produces it (Prometheus'
/// `targetgroup.Group`): each target is a label set holding at least `__address__`.
public struct TargetGroup: Sendable {
    /// Identifies the group within its provider, so an update replaces the right group.
    public var source: String
    public var targets: [[(String, String)]]
    public var labels: [(String, String)]
    public init(source: String, targets: [[(String, String)]], labels: [(String, String)]) {
        self.source = source
        self.targets = targets
        self.labels = labels
    }
}

/// `static_configs`: one group per entry, fixed for the life of the configuration.
public enum StaticDiscovery {
    public static func groups(for job: ScrapeConfig) -> [TargetGroup] {
        job.staticConfigs.enumerated().map { i, sc in
            TargetGroup(
                source: String(i), targets: sc.targets.map { [("__address__", $0)] }, labels: sc.labels)
        }
    }
}
