/// One service-discovery entry of a scrape job (`file_sd_configs`, `http_sd_configs`,
/// `kubernetes_sd_configs`). `key` identifies its settings: a reload keeps a running discoverer
/// whose key is unchanged, as Prometheus keeps providers whose configuration did not change.
public struct ServiceDiscoveryConfig: Sendable {
    public enum Mechanism: Sendable {
        case file(FileSDConfig)
        case http(HTTPSDConfig)
        case kubernetes(KubernetesSDConfig)
    }
    public var key: String
    public var mechanism: Mechanism
    public init(key: String, mechanism: Mechanism) {
        self.key = key
        self.mechanism = mechanism
    }
}

/// `file_sd_configs`: JSON or YAML files of target groups, found by glob.
public struct FileSDConfig: Sendable {
    /// Patterns, resolved against the configuration file's directory; only the last path element
    /// may hold a `*`.
    public var files: [String] = []
    public var refreshInterval: Duration = .seconds(300)
    public init() {}
}

/// `http_sd_configs`: a URL answering with a JSON list of target groups.
public struct HTTPSDConfig: Sendable {
    public var url: String = ""
    public var refreshInterval: Duration = .seconds(60)
    public var http = HTTPClientConfig()
    public init() {}
}

/// `kubernetes_sd_configs`: targets from a Kubernetes API server, listed and then watched.
public struct KubernetesSDConfig: Sendable {
    public enum Role: String, Sendable, CaseIterable {
        case pod, service, endpoints, endpointslice, node
    }
    public struct Selector: Sendable, Equatable {
        public var role: Role
        public var label: String
        public var field: String
        public init(role: Role, label: String, field: String) {
            self.role = role
            self.label = label
            self.field = field
        }
    }
    public var role: Role = .pod
    /// nil: in-cluster configuration, unless `kubeconfigFile` is set.
    public var apiServer: String? = nil
    public var kubeconfigFile: String? = nil
    /// Empty: all namespaces (unless `ownNamespace`).
    public var namespaces: [String] = []
    public var ownNamespace = false
    public var selectors: [Selector] = []
    /// `attach_metadata.node`: pod, endpoints and endpointslice targets get their node's labels.
    public var attachNode = false
    /// Authentication and TLS toward `apiServer`.
    public var http = HTTPClientConfig()
    /// Set by `--kubernetes.node-local`: pods are listed with `spec.nodeName=<node>`.
    public var nodeName: String? = nil
    public init() {}

    /// The selectors each role may carry, as Prometheus allows them.
    public static func allowedSelectors(for role: Role) -> [Role] {
        switch role {
        case .pod: return [.pod, .node]
        case .service: return [.service]
        case .endpoints: return [.pod, .service, .endpoints]
        case .endpointslice: return [.pod, .service, .endpointslice]
        case .node: return [.node]
        }
    }
}
