import Relabel

/// How this Outpost is deployed, from its flags: applied to every configuration it loads.
public struct DeploymentSettings: Sendable {
    /// `--kubernetes.node-local` (DaemonSet mode): the node whose pods alone are discovered.
    public var nodeName: String? = nil
    /// `--cluster.members-count` and `--cluster.member-num`: this replica scrapes the targets whose
    /// address hashes (Prometheus' `hashmod`) to `member` modulo `members`.
    public var members = 1
    public var member = 0
    /// `--monitors.dir` and `--monitors.secrets-dir`.
    public var monitorsDirectory: String? = nil
    public var monitorSecretsDirectory = MonitorSettings(directory: "").secretsDirectory
    /// `--monitors.kubeconfig`.
    public var monitorKubeconfig: String? = nil
    public init() {}

    /// The monitor settings for this deployment: the flags', else the file's `monitors:` section.
    public func monitors(file section: MonitorsSection?) -> MonitorSettings? {
        guard let dir = monitorsDirectory ?? section?.dir else { return nil }
        var m = MonitorSettings(directory: dir)
        m.secretsDirectory = monitorsDirectory != nil ? monitorSecretsDirectory : (section?.secretsDir ?? monitorSecretsDirectory)
        m.kubeconfig = monitorsDirectory != nil ? monitorKubeconfig : (section?.kubeconfigFile ?? monitorKubeconfig)
        m.nodeName = nodeName
        m.shard = member
        m.shards = members
        return m
    }

    /// Loads `path` with this deployment's monitors, as it runs here.
    public func load(_ path: String) throws(ConfigError) -> OutpostConfiguration {
        var config = try ConfigLoader.load(path: path)
        if let m = monitors(file: config.monitors) { try ConfigLoader.addMonitors(m, to: &config) }
        return config.deployed(self)
    }

    /// Checks the flags' values together; `environment` supplies `NODE_NAME`.
    public static func make(
        nodeLocal: Bool, members: Int, member: Int, environment: [String: String]
    ) throws(ConfigError) -> DeploymentSettings {
        var d = DeploymentSettings()
        if nodeLocal {
            guard let node = environment["NODE_NAME"], !node.isEmpty else {
                throw ConfigError(
                    file: "--kubernetes.node-local", line: 0,
                    message: "NODE_NAME is not set; give it the node's name from the downward API (fieldRef: spec.nodeName)")
            }
            d.nodeName = node
        }
        guard members >= 1 else {
            throw ConfigError(file: "--cluster.members-count", line: 0, message: "must be at least 1, got \(members)")
        }
        guard member >= 0 && member < members else {
            throw ConfigError(
                file: "--cluster.member-num", line: 0, message: "must be between 0 and \(members - 1) (members-count - 1), got \(member)")
        }
        d.members = members
        d.member = member
        return d
    }
}

extension OutpostConfiguration {
    /// The configuration as this deployment runs it: pod discovery limited to the node in
    /// DaemonSet mode, and each job's targets narrowed to this replica's share.
    public func deployed(_ d: DeploymentSettings) -> OutpostConfiguration {
        var c = self
        for j in c.scrapeConfigs.indices where !c.scrapeConfigs[j].fromMonitor {
            if let node = d.nodeName {
                for s in c.scrapeConfigs[j].serviceDiscovery.indices {
                    guard case .kubernetes(var k) = c.scrapeConfigs[j].serviceDiscovery[s].mechanism, k.role == .pod else { continue }
                    k.nodeName = node
                    c.scrapeConfigs[j].serviceDiscovery[s].mechanism = .kubernetes(k)
                    // A different node is a different provider.
                    c.scrapeConfigs[j].serviceDiscovery[s].key += "@" + node
                }
            }
            if d.members > 1 {
                // After the job's own rules, as prometheus-operator shards: by the final address.
                // Both rules are valid by construction, so building them cannot fail.
                if let hash = try? RelabelRule(
                    action: .hashmod, sourceLabels: ["__address__"], modulus: UInt64(d.members), targetLabel: "__tmp_cluster_hash"),
                    let keep = try? RelabelRule(action: .keep, sourceLabels: ["__tmp_cluster_hash"], regex: String(d.member))
                {
                    c.scrapeConfigs[j].relabelConfigs += [hash, keep]
                }
            }
        }
        return c
    }
}
