import OutpostModel
import Yams

extension ConfigLoader {
    static let discoveryKeys: Set<String> = ["file_sd_configs", "http_sd_configs", "kubernetes_sd_configs"]

    /// A job's `*_sd_configs` entries, in file order: file, then HTTP, then Kubernetes.
    static func parseServiceDiscovery(_ f: YAMLFields) throws(ConfigError) -> [ServiceDiscoveryConfig] {
        var out: [ServiceDiscoveryConfig] = []
        let dir = directory(of: f.file)
        func key(_ kind: String, _ node: Node) -> String {
            // The directory is part of the identity: relative paths mean different files elsewhere.
            kind + ":" + String(FNV1a64.hash(dir + "\n" + ((try? Yams.serialize(node: node)) ?? "")), radix: 16)
        }
        for (i, node) in try f.sequence("file_sd_configs").enumerated() {
            let sf = try YAMLFields(
                node, file: f.file, context: "\(f.context).file_sd_configs[\(i)]", allowed: ["files", "refresh_interval"])
            var c = FileSDConfig()
            let files = try sf.stringList("files")
            guard !files.isEmpty else {
                throw ConfigError(
                    file: f.file, line: sf.line,
                    message: "\(sf.context): file service discovery config must contain at least one path name")
            }
            for name in files where !isValidFileSDPattern(name) {
                throw sf.error("files", "path name \"\(name)\" is not valid for file discovery")
            }
            c.files = files.map { resolve($0, in: dir) }
            if let d = try sf.duration("refresh_interval") {
                guard d > .zero else { throw sf.error("refresh_interval", "must be greater than 0") }
                c.refreshInterval = d
            }
            out.append(ServiceDiscoveryConfig(key: key("file", node), mechanism: .file(c)))
        }
        for (i, node) in try f.sequence("http_sd_configs").enumerated() {
            let sf = try YAMLFields(
                node, file: f.file, context: "\(f.context).http_sd_configs[\(i)]",
                allowed: Set(["url", "refresh_interval"]).union(HTTPClientConfig.keys))
            var c = HTTPSDConfig()
            guard let url = try sf.string("url"), !url.isEmpty else {
                throw ConfigError(file: f.file, line: sf.line, message: "\(sf.context): URL is missing")
            }
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw sf.error("url", "URL scheme must be 'http' or 'https'")
            }
            let afterScheme = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
            guard afterScheme.count >= 3, !afterScheme[2].isEmpty else { throw sf.error("url", "host is missing in URL") }
            c.url = url
            if let d = try sf.duration("refresh_interval") {
                guard d > .zero else { throw sf.error("refresh_interval", "must be greater than 0") }
                c.refreshInterval = d
            }
            c.http = try parseHTTPClientConfig(sf)
            out.append(ServiceDiscoveryConfig(key: key("http", node), mechanism: .http(c)))
        }
        for (i, node) in try f.sequence("kubernetes_sd_configs").enumerated() {
            let c = try parseKubernetesSD(node, context: "\(f.context).kubernetes_sd_configs[\(i)]", file: f.file)
            out.append(ServiceDiscoveryConfig(key: key("kubernetes", node), mechanism: .kubernetes(c)))
        }
        return out
    }

    /// Prometheus' rule for file_sd names: a `.json`, `.yml` or `.yaml` file, with a `*` allowed
    /// only in the last path element.
    static func isValidFileSDPattern(_ name: String) -> Bool {
        let lower = name.lowercased()
        let extensionOK = [".json", ".yml", ".yaml"].contains { lower.hasSuffix($0) }
            && [".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"].contains { name.hasSuffix($0) }
        guard extensionOK else { return false }
        guard let star = name.firstIndex(of: "*") else { return true }
        return !name[star...].contains("/")
    }

    static func parseKubernetesSD(_ node: Node, context: String, file: String) throws(ConfigError) -> KubernetesSDConfig {
        let f = try YAMLFields(
            node, file: file, context: context,
            allowed: Set(["api_server", "role", "kubeconfig_file", "namespaces", "selectors", "attach_metadata"])
                .union(HTTPClientConfig.keys))
        var c = KubernetesSDConfig()
        guard let roleName = try f.string("role"), !roleName.isEmpty else {
            throw ConfigError(
                file: file, line: f.line,
                message: "\(context): role missing (one of: pod, service, endpoints, endpointslice, node, ingress)")
        }
        guard let role = KubernetesSDConfig.Role(rawValue: roleName) else {
            if roleName == "ingress" {
                throw f.error("role", "the ingress role is not supported by Outpost (it scrapes pods, services, endpoints, endpointslices and nodes)")
            }
            throw f.error("role", "unknown Kubernetes SD role \"\(roleName)\"")
        }
        c.role = role
        let dir = directory(of: file)
        if let server = try f.string("api_server"), !server.isEmpty {
            guard server.hasPrefix("http://") || server.hasPrefix("https://") else {
                throw f.error("api_server", "must be an http:// or https:// URL, got \"\(server)\"")
            }
            c.apiServer = server.hasSuffix("/") ? String(server.dropLast()) : server
        }
        c.kubeconfigFile = try f.string("kubeconfig_file").flatMap { $0.isEmpty ? nil : resolve($0, in: dir) }
        c.http = try parseHTTPClientConfig(f)
        let customHTTP = HTTPClientConfig.keys.contains { f.has($0) }
        if c.apiServer != nil && c.kubeconfigFile != nil {
            throw f.error("kubeconfig_file", "cannot use 'kubeconfig_file' and 'api_server' simultaneously")
        }
        if c.kubeconfigFile != nil && customHTTP {
            throw f.error("kubeconfig_file", "cannot use a custom HTTP client configuration together with 'kubeconfig_file'")
        }
        if c.apiServer == nil && customHTTP {
            throw ConfigError(
                file: file, line: f.line,
                message: "\(context): to use custom HTTP client configuration please provide the 'api_server' URL explicitly")
        }
        if let n = f.node("namespaces") {
            let nf = try YAMLFields(n, file: file, context: "\(context).namespaces", allowed: ["names", "own_namespace"])
            c.namespaces = try nf.stringList("names")
            c.ownNamespace = try nf.bool("own_namespace") ?? false
            if c.ownNamespace && c.apiServer != nil {
                throw nf.error("own_namespace", "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously")
            }
            if c.ownNamespace && c.kubeconfigFile != nil {
                throw nf.error("own_namespace", "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously")
            }
        }
        let allowed = KubernetesSDConfig.allowedSelectors(for: role)
        for (j, s) in try f.sequence("selectors").enumerated() {
            let sf = try YAMLFields(s, file: file, context: "\(context).selectors[\(j)]", allowed: ["role", "label", "field"])
            guard let name = try sf.string("role"), let selectorRole = KubernetesSDConfig.Role(rawValue: name) else {
                throw ConfigError(file: file, line: sf.line, message: "\(sf.context): role missing or unknown")
            }
            if c.selectors.contains(where: { $0.role == selectorRole }) {
                throw sf.error("role", "duplicated selector role: \(name)")
            }
            guard allowed.contains(selectorRole) else {
                throw sf.error(
                    "role", "\(role.rawValue) role supports only \(allowed.map(\.rawValue).joined(separator: ", ")) selectors")
            }
            let label = try sf.string("label") ?? ""
            let field = try sf.string("field") ?? ""
            if let problem = KubernetesSelectorSyntax.problem(label, fields: false) { throw sf.error("label", problem) }
            if let problem = KubernetesSelectorSyntax.problem(field, fields: true) { throw sf.error("field", problem) }
            c.selectors.append(.init(role: selectorRole, label: label, field: field))
        }
        if let a = f.node("attach_metadata") {
            let af = try YAMLFields(
                a, file: file, context: "\(context).attach_metadata",
                allowed: ["node", "namespace", "deployment", "job", "cronjob"])
            c.attachNode = try af.bool("node") ?? false
            for key in ["namespace", "deployment", "job", "cronjob"] where try af.bool(key) == true {
                throw af.error(key, "attaching \(key) metadata is not supported by Outpost; only attach_metadata.node is")
            }
        }
        return c
    }
}

/// A light check of Kubernetes label and field selector syntax, so a typo fails at load time
/// rather than as a 400 from the API server.
enum KubernetesSelectorSyntax {
    static func problem(_ text: String, fields: Bool) -> String? {
        guard !text.isEmpty else { return nil }
        // Terms are separated by commas outside parentheses (`app in (a,b),tier!=db`).
        var terms: [String] = []
        var current = ""
        var depth = 0
        for ch in text {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if depth < 0 { return "invalid selector \"\(text)\": unbalanced \")\"" }
            if ch == "," && depth == 0 {
                terms.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        terms.append(current)
        if depth != 0 { return "invalid selector \"\(text)\": unclosed \"(\"" }
        for term in terms {
            let t = Substring(term).trimmingSpaces()
            if t.isEmpty { return "invalid selector \"\(text)\": empty term" }
            if fields {
                guard t.contains("=") else { return "invalid field selector \"\(text)\": \"\(t)\" has no operator" }
            } else if t.contains(" in ") || t.contains(" notin ") {
                guard t.hasSuffix(")"), t.contains("(") else { return "invalid label selector \"\(text)\": no value set in \"\(t)\"" }
            }
        }
        return nil
    }
}

extension Substring {
    /// Without leading and trailing spaces.
    func trimmingSpaces() -> String {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
