import OutpostModel
import Yams

/// Builds one monitor's jobs.
struct MonitorGenerator {
    let kind: String
    let file: String
    let settings: MonitorSettings
    let name: String
    let namespace: String
    let spec: YAMLFields
    var isService: Bool { kind == "ServiceMonitor" }
    var origin: String { "\(kind) \(namespace)/\(name)" }

    init(node: Node, kind: String, file: String, settings: MonitorSettings) throws(ConfigError) {
        self.kind = kind
        self.file = file
        self.settings = settings
        let top = try YAMLFields(node, file: file, context: kind, allowed: ["apiVersion", "kind", "metadata", "spec", "status"])
        guard let meta = top.node("metadata"), case .mapping(let m) = meta, let n = m["name"]?.string, !n.isEmpty else {
            throw ConfigError(file: file, line: top.line, message: "\(kind): metadata.name is required")
        }
        name = n
        namespace = m["namespace"]?.string ?? "default"
        guard let s = top.node("spec") else {
            throw ConfigError(file: file, line: top.line, message: "\(kind) \(namespace)/\(n): spec is required")
        }
        let endpointsKey = kind == "ServiceMonitor" ? "endpoints" : "podMetricsEndpoints"
        var allowed: Set<String> = [
            endpointsKey, "selector", "namespaceSelector", "jobLabel", "podTargetLabels", "sampleLimit", "targetLimit",
            "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit", "keepDroppedTargets", "attachMetadata",
            "scrapeProtocols", "fallbackScrapeProtocol", "bodySizeLimit", "selectorMechanism",
        ]
        if kind == "ServiceMonitor" { allowed.formUnion(["targetLabels", "serviceDiscoveryRole"]) }
        spec = try YAMLFields(s, file: file, context: "\(kind) \(namespace)/\(n): spec", allowed: allowed)
    }

    // MARK: - Node building

    typealias Pairs = [(String, Node)]

    static func map(_ pairs: Pairs) -> Node { .mapping(.init(pairs.map { (Node($0.0), $0.1) })) }
    static func list(_ items: [Node]) -> Node { .sequence(.init(items)) }
    static func bool(_ b: Bool) -> Node { Node(b ? "true" : "false") }
    static func int(_ i: Int) -> Node { Node(String(i)) }
    /// A string, double-quoted when plain YAML would read it as something else (as yaml.v2 writes it).
    static func str(_ s: String) -> Node {
        Node(s, .implicit, looksTyped(s) ? .doubleQuoted : .any)
    }
    static func strList(_ items: [String]) -> Node { list(items.map(str)) }

    static func looksTyped(_ s: String) -> Bool {
        if s.isEmpty { return true }
        let lower = s.lowercased()
        if ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", "-.inf", "+.inf", ".nan"].contains(lower) {
            return true
        }
        if Int(s) != nil || Double(s) != nil { return true }
        if s.hasPrefix("0x") { return Int(s.dropFirst(2), radix: 16) != nil }
        if s.hasPrefix("0o") { return Int(s.dropFirst(2), radix: 8) != nil }
        return false
    }

    static func sanitize(_ name: String) -> String { sanitizeLabelName(name) }

    // MARK: - Jobs

    func jobs() throws(ConfigError) -> [(node: Node, line: Int)] {
        let endpointsKey = isService ? "endpoints" : "podMetricsEndpoints"
        let role = try discoveryRole()
        let selectorRules = try selectorRules()
        var out: [(node: Node, line: Int)] = []
        for (i, e) in try spec.sequence(endpointsKey).enumerated() {
            out.append((try job(e, index: i, role: role, selectorRules: selectorRules), e.mark?.line ?? spec.line))
        }
        return out
    }

    private func discoveryRole() throws(ConfigError) -> String {
        guard isService else { return "pod" }
        switch try spec.string("serviceDiscoveryRole") ?? "Endpoints" {
        case "Endpoints": return "endpoints"
        case "EndpointSlice": return "endpointslice"
        case let other: throw spec.error("serviceDiscoveryRole", "must be Endpoints or EndpointSlice, got \"\(other)\"")
        }
    }

    private var labelPrefix: String { isService ? "__meta_kubernetes_service_" : "__meta_kubernetes_pod_" }

    /// `selector` as keep/drop rules (prometheus-operator's default selector mechanism).
    private func selectorRules() throws(ConfigError) -> [Node] {
        if let mechanism = try spec.string("selectorMechanism"), mechanism != "RelabelConfig" {
            throw spec.error("selectorMechanism", "only RelabelConfig is supported by Outpost, got \"\(mechanism)\"")
        }
        guard let sel = spec.node("selector") else { return [] }
        let f = try YAMLFields(sel, file: file, context: "\(spec.context).selector", allowed: ["matchLabels", "matchExpressions"])
        var rules: [Node] = []
        for (k, v) in try f.stringMap("matchLabels").sorted(by: { $0.0 < $1.0 }) {
            let key = Self.sanitize(k)
            rules.append(
                Self.map([
                    ("action", Node("keep")),
                    ("source_labels", Self.strList([labelPrefix + "label_" + key, labelPrefix + "labelpresent_" + key])),
                    ("regex", Self.str("(\(v));true")),
                ]))
        }
        for (i, expr) in try f.sequence("matchExpressions").enumerated() {
            let ef = try YAMLFields(expr, file: file, context: "\(f.context).matchExpressions[\(i)]", allowed: ["key", "operator", "values"])
            guard let k = try ef.string("key"), !k.isEmpty else { throw ConfigError(file: file, line: ef.line, message: "\(ef.context): key is required") }
            let key = Self.sanitize(k)
            let values = try ef.stringList("values")
            switch try ef.string("operator") ?? "" {
            case "In", "NotIn":
                guard !values.isEmpty else { throw ef.error("values", "must not be empty for In and NotIn") }
                rules.append(
                    Self.map([
                        ("action", Node(try ef.string("operator") == "In" ? "keep" : "drop")),
                        ("source_labels", Self.strList([labelPrefix + "label_" + key, labelPrefix + "labelpresent_" + key])),
                        ("regex", Self.str("(\(values.joined(separator: "|")));true")),
                    ]))
            case "Exists", "DoesNotExist":
                guard values.isEmpty else { throw ef.error("values", "must be empty for Exists and DoesNotExist") }
                rules.append(
                    Self.map([
                        ("action", Node(try ef.string("operator") == "Exists" ? "keep" : "drop")),
                        ("source_labels", Self.strList([labelPrefix + "labelpresent_" + key])),
                        ("regex", Self.str("true")),
                    ]))
            case let op:
                throw ef.error("operator", "\"\(op)\" is not a valid selector operator (In, NotIn, Exists, DoesNotExist)")
            }
        }
        return rules
    }

    private func namespaces() throws(ConfigError) -> [String] {
        guard let n = spec.node("namespaceSelector") else { return [namespace] }
        let f = try YAMLFields(n, file: file, context: "\(spec.context).namespaceSelector", allowed: ["any", "matchNames"])
        if try f.bool("any") == true { return [] }
        let names = try f.stringList("matchNames")
        return names.isEmpty ? [namespace] : names
    }

    private func job(_ e: Node, index: Int, role: String, selectorRules: [Node]) throws(ConfigError) -> Node {
        let context = "\(origin): spec.\(isService ? "endpoints" : "podMetricsEndpoints")[\(index)]"
        var allowed: Set<String> = [
            "port", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout", "honorLabels", "honorTimestamps",
            "trackTimestampsStaleness", "relabelings", "metricRelabelings", "filterRunning", "tlsConfig", "bearerTokenSecret",
            "authorization", "basicAuth", "oauth2", "proxyUrl", "followRedirects", "enableHttp2",
        ]
        if isService { allowed.insert("bearerTokenFile") } else { allowed.insert("portNumber") }
        let f = try YAMLFields(e, file: file, context: context, allowed: allowed)
        let jobName = "\(isService ? "serviceMonitor" : "podMonitor")/\(namespace)/\(name)/\(index)"
        var job: Pairs = [("job_name", Self.str(jobName)), ("honor_labels", Self.bool(try f.bool("honorLabels") ?? false))]
        if let h = try f.bool("honorTimestamps") { job.append(("honor_timestamps", Self.bool(h))) }
        if let t = try f.bool("trackTimestampsStaleness") { job.append(("track_timestamps_staleness", Self.bool(t))) }

        var sd: Pairs = [("role", Node(role))]
        let ns = try namespaces()
        if !ns.isEmpty { sd.append(("namespaces", Self.map([("names", Self.strList(ns))]))) }
        if let k = settings.kubeconfig { sd.append(("kubeconfig_file", Self.str(k))) }
        if let a = spec.node("attachMetadata") {
            let af = try YAMLFields(a, file: file, context: "\(spec.context).attachMetadata", allowed: ["node"])
            sd.append(("attach_metadata", Self.map([("node", Self.bool(try af.bool("node") ?? false))])))
        }
        if let node = settings.nodeName {
            sd.append(("selectors", Self.list([Self.map([("role", Node("pod")), ("field", Self.str("spec.nodeName=\(node)"))])])))
        }
        job.append(("kubernetes_sd_configs", Self.list([Self.map(sd)])))

        let interval = try f.string("interval")
        let timeout = try f.string("scrapeTimeout")
        if let interval, let timeout, let i = PromDuration.parse(interval), let t = PromDuration.parse(timeout), t > i {
            throw f.error("scrapeTimeout", "scrapeTimeout \"\(timeout)\" greater than the interval \"\(interval)\"")
        }
        if let interval, !interval.isEmpty { job.append(("scrape_interval", Self.str(interval))) }
        if let timeout, !timeout.isEmpty { job.append(("scrape_timeout", Self.str(timeout))) }
        if let path = try f.string("path"), !path.isEmpty { job.append(("metrics_path", Self.str(path))) }
        if f.has("params") {
            let params = try f.stringListMap("params")
            job.append(("params", Self.map(params.sorted { $0.name < $1.name }.map { ($0.name, Self.strList($0.values)) })))
        }
        if let scheme = try f.string("scheme") { job.append(("scheme", Node(scheme.lowercased()))) }
        job += try httpFields(f)
        job.append(("relabel_configs", Self.list(try relabelRules(f, role: role, selectorRules: selectorRules))))
        for (key, out) in [
            ("sampleLimit", "sample_limit"), ("targetLimit", "target_limit"), ("labelLimit", "label_limit"),
            ("labelNameLengthLimit", "label_name_length_limit"), ("labelValueLengthLimit", "label_value_length_limit"),
            ("keepDroppedTargets", "keep_dropped_targets"),
        ] {
            if let v = try spec.int(key) { job.append((out, Self.int(v))) }
        }
        if spec.has("scrapeProtocols") { job.append(("scrape_protocols", Self.strList(try spec.stringList("scrapeProtocols")))) }
        if let p = try spec.string("fallbackScrapeProtocol") { job.append(("fallback_scrape_protocol", Self.str(p))) }
        if let b = try spec.string("bodySizeLimit") { job.append(("body_size_limit", Self.str(b))) }
        let metricRules = try userRules(f, "metricRelabelings")
        if !metricRules.isEmpty { job.append(("metric_relabel_configs", Self.list(metricRules))) }
        return Self.map(job)
    }

    // MARK: - Relabel rules

    private func relabelRules(_ f: YAMLFields, role: String, selectorRules: [Node]) throws(ConfigError) -> [Node] {
        var rules: [Node] = [Self.map([("source_labels", Self.strList(["job"])), ("target_label", Node("__tmp_prometheus_job_name"))])]
        let filterRunning = try f.bool("filterRunning") ?? true
        let phaseDrop = Self.map([
            ("action", Node("drop")), ("source_labels", Self.strList(["__meta_kubernetes_pod_phase"])),
            ("regex", Self.str("(Failed|Succeeded)")),
        ])
        func keep(_ label: String, _ regex: Node) -> Node {
            Self.map([("action", Node("keep")), ("source_labels", Self.strList([label])), ("regex", regex)])
        }
        func copy(_ source: String, _ target: String) -> Node {
            Self.map([("source_labels", Self.strList([source])), ("target_label", Node(target))])
        }
        func fromLabel(_ source: String, _ target: String) -> Node {
            Self.map([
                ("source_labels", Self.strList([source])), ("target_label", Self.str(target)), ("regex", Self.str("(.+)")),
                ("replacement", Self.str("${1}")),
            ])
        }
        let port = try f.string("port") ?? ""
        let targetPort: IntOrStringValue? = try Self.intOrString(f, "targetPort")
        var endpointLabel: String? = nil
        if isService {
            rules += selectorRules
            let kindPrefix = role == "endpointslice" ? "__meta_kubernetes_endpointslice_" : "__meta_kubernetes_endpoint_"
            if !port.isEmpty {
                rules.append(keep(kindPrefix + "port_name", Self.str(port)))
                endpointLabel = port
            } else if let targetPort {
                switch targetPort {
                case .string(let s) where !s.isEmpty:
                    rules.append(keep("__meta_kubernetes_pod_container_port_name", Self.str(s)))
                    endpointLabel = s
                case .int(let n):
                    if n != 0 { rules.append(keep("__meta_kubernetes_pod_container_port_number", Self.int(n))) }
                    endpointLabel = String(n)
                default: break
                }
            }
            for target in ["node", "pod"] {
                rules.append(
                    Self.map([
                        ("source_labels", Self.strList([kindPrefix + "address_target_kind", kindPrefix + "address_target_name"])),
                        ("separator", Node(";")), ("regex", Self.str(target == "node" ? "Node;(.*)" : "Pod;(.*)")),
                        ("replacement", Self.str("${1}")), ("target_label", Node(target)),
                    ]))
            }
            rules.append(copy("__meta_kubernetes_namespace", "namespace"))
            rules.append(copy("__meta_kubernetes_service_name", "service"))
            rules.append(copy("__meta_kubernetes_pod_name", "pod"))
            rules.append(copy("__meta_kubernetes_pod_container_name", "container"))
            if filterRunning { rules.append(phaseDrop) }
            for l in try spec.stringList("targetLabels") {
                rules.append(fromLabel("__meta_kubernetes_service_label_" + Self.sanitize(l), Self.sanitize(l)))
            }
            for l in try spec.stringList("podTargetLabels") {
                rules.append(fromLabel("__meta_kubernetes_pod_label_" + Self.sanitize(l), Self.sanitize(l)))
            }
            rules.append(
                Self.map([
                    ("source_labels", Self.strList(["__meta_kubernetes_service_name"])), ("target_label", Node("job")),
                    ("replacement", Self.str("${1}")),
                ]))
            if let jobLabel = try spec.string("jobLabel"), !jobLabel.isEmpty {
                rules.append(fromLabel("__meta_kubernetes_service_label_" + Self.sanitize(jobLabel), "job"))
            }
        } else {
            if filterRunning { rules.append(phaseDrop) }
            rules += selectorRules
            let portNumber = try f.int("portNumber", minimum: 0) ?? 0
            if !port.isEmpty {
                rules.append(keep("__meta_kubernetes_pod_container_port_name", Self.str(port)))
                endpointLabel = port
            } else if portNumber != 0 {
                rules.append(keep("__meta_kubernetes_pod_container_port_number", Self.int(portNumber)))
            } else if let targetPort {
                switch targetPort {
                case .string(let s) where !s.isEmpty:
                    rules.append(keep("__meta_kubernetes_pod_container_port_name", Self.str(s)))
                case .int(let n) where n != 0:
                    rules.append(keep("__meta_kubernetes_pod_container_port_number", Self.int(n)))
                default: break
                }
            }
            if port.isEmpty, let targetPort {
                switch targetPort {
                case .string(let s) where !s.isEmpty: endpointLabel = s
                case .int(let n): endpointLabel = String(n)
                default: break
                }
            }
            rules.append(copy("__meta_kubernetes_namespace", "namespace"))
            rules.append(copy("__meta_kubernetes_pod_container_name", "container"))
            rules.append(copy("__meta_kubernetes_pod_name", "pod"))
            for l in try spec.stringList("podTargetLabels") {
                rules.append(fromLabel("__meta_kubernetes_pod_label_" + Self.sanitize(l), Self.sanitize(l)))
            }
            rules.append(Self.map([("target_label", Node("job")), ("replacement", Self.str("\(namespace)/\(name)"))]))
            if let jobLabel = try spec.string("jobLabel"), !jobLabel.isEmpty {
                rules.append(fromLabel("__meta_kubernetes_pod_label_" + Self.sanitize(jobLabel), "job"))
            }
        }
        if let endpointLabel {
            rules.append(Self.map([("target_label", Node("endpoint")), ("replacement", Self.str(endpointLabel))]))
        }
        rules += try userRules(f, "relabelings")
        if settings.nodeName == nil {
            // prometheus-operator's sharding rules; `$(SHARD)` is this replica's number, as its
            // config reloader would substitute it.
            rules += [
                Self.map([
                    ("source_labels", Self.strList(["__address__", "__tmp_hash"])), ("target_label", Node("__tmp_hash")),
                    ("regex", Self.str("(.+);")), ("replacement", Self.str("$1")), ("action", Node("replace")),
                ]),
                Self.map([
                    ("source_labels", Self.strList(["__tmp_hash"])), ("target_label", Node("__tmp_hash")),
                    ("modulus", Self.int(settings.shards)), ("action", Node("hashmod")),
                ]),
                Self.map([
                    ("source_labels", Self.strList(["__tmp_hash", "__tmp_disable_sharding"])),
                    ("regex", Self.str("\(settings.shard);|.+;.+")), ("action", Node("keep")),
                ]),
            ]
        }
        return rules
    }

    enum IntOrStringValue {
        case int(Int)
        case string(String)
    }

    /// A Kubernetes IntOrString: a plain number is an int, a quoted one a string.
    static func intOrString(_ f: YAMLFields, _ key: String) throws(ConfigError) -> IntOrStringValue? {
        guard let node = f.node(key) else { return nil }
        guard case .scalar(let s) = node else { throw f.error(key, "must be a port number or name") }
        if s.style == .plain || s.style == .any, let n = Int(s.string) { return .int(n) }
        return .string(s.string)
    }

    /// `relabelings` / `metricRelabelings` in the CRD's camelCase, rendered in Prometheus' names
    /// with the CRD's default action `replace`.
    private func userRules(_ f: YAMLFields, _ key: String) throws(ConfigError) -> [Node] {
        var out: [Node] = []
        for (i, r) in try f.sequence(key).enumerated() {
            let rf = try YAMLFields(
                r, file: file, context: "\(f.context).\(key)[\(i)]",
                allowed: ["sourceLabels", "separator", "targetLabel", "regex", "modulus", "replacement", "action"])
            var pairs: Pairs = []
            let sources = try rf.stringList("sourceLabels")
            if !sources.isEmpty { pairs.append(("source_labels", Self.strList(sources))) }
            if rf.has("separator") { pairs.append(("separator", Self.str(try rf.string("separator") ?? ""))) }
            if let t = try rf.string("targetLabel"), !t.isEmpty { pairs.append(("target_label", Self.str(t))) }
            if let r = try rf.string("regex"), !r.isEmpty { pairs.append(("regex", Self.str(r))) }
            if let m = try rf.int("modulus"), m != 0 { pairs.append(("modulus", Self.int(m))) }
            if rf.has("replacement") { pairs.append(("replacement", Self.str(try rf.string("replacement") ?? ""))) }
            pairs.append(("action", Node((try rf.string("action") ?? "replace").lowercased())))
            out.append(Self.map(pairs))
        }
        return out
    }

    // MARK: - HTTP settings

    /// A mounted secret or config map key.
    private func secretPath(_ n: Node, _ context: String, configMap: Bool = false) throws(ConfigError) -> String {
        let f = try YAMLFields(n, file: file, context: context, allowed: ["name", "key", "optional"])
        guard let name = try f.string("name"), !name.isEmpty, let key = try f.string("key"), !key.isEmpty else {
            throw ConfigError(file: file, line: f.line, message: "\(context): name and key are required")
        }
        let base = settings.secretsDirectory.hasSuffix("/") ? String(settings.secretsDirectory.dropLast()) : settings.secretsDirectory
        return "\(base)/\(configMap ? "configmap" : "secret")/\(namespace)/\(name)/\(key)"
    }

    /// `{secret: …}` or `{configMap: …}`.
    private func secretOrConfigMap(_ n: Node, _ context: String) throws(ConfigError) -> String {
        let f = try YAMLFields(n, file: file, context: context, allowed: ["secret", "configMap"])
        switch (f.node("secret"), f.node("configMap")) {
        case (let s?, nil): return try secretPath(s, context + ".secret")
        case (nil, let c?): return try secretPath(c, context + ".configMap", configMap: true)
        default: throw ConfigError(file: file, line: f.line, message: "\(context): exactly one of secret and configMap is required")
        }
    }

    private func tls(_ n: Node, _ context: String, files: Bool) throws(ConfigError) -> Node {
        var allowed: Set<String> = ["ca", "cert", "keySecret", "serverName", "insecureSkipVerify", "minVersion", "maxVersion"]
        if files { allowed.formUnion(["caFile", "certFile", "keyFile"]) }
        let f = try YAMLFields(n, file: file, context: context, allowed: allowed)
        var pairs: Pairs = []
        if let b = try f.bool("insecureSkipVerify") { pairs.append(("insecure_skip_verify", Self.bool(b))) }
        if let ca = f.node("ca") { pairs.append(("ca_file", Self.str(try secretOrConfigMap(ca, context + ".ca")))) }
        if let cert = f.node("cert") { pairs.append(("cert_file", Self.str(try secretOrConfigMap(cert, context + ".cert")))) }
        if let key = f.node("keySecret") { pairs.append(("key_file", Self.str(try secretPath(key, context + ".keySecret")))) }
        if let s = try f.string("serverName"), !s.isEmpty { pairs.append(("server_name", Self.str(s))) }
        if let v = try f.string("minVersion") { pairs.append(("min_version", Self.str(v))) }
        if let v = try f.string("maxVersion") { pairs.append(("max_version", Self.str(v))) }
        for (k, out) in [("caFile", "ca_file"), ("certFile", "cert_file"), ("keyFile", "key_file")] where files {
            if let v = try f.string(k), !v.isEmpty { pairs.append((out, Self.str(v))) }
        }
        if (f.has("ca") && f.has("caFile")) || (f.has("cert") && f.has("certFile")) || (f.has("keySecret") && f.has("keyFile")) {
            throw ConfigError(file: file, line: f.line, message: "\(context): a secret reference and a file cannot both be given for the same item")
        }
        return Self.map(pairs)
    }

    /// The endpoint's HTTP client fields, in prometheus-operator's order for the monitor kind.
    /// Secrets become `*_file` paths under the secrets directory, so they are read (and re-read
    /// when rotated) from the mounted Secret rather than copied into the configuration.
    private func httpFields(_ f: YAMLFields) throws(ConfigError) -> Pairs {
        let auths = ["authorization", "basicAuth", "bearerTokenSecret", "oauth2"].filter { f.has($0) }
        if auths.count > 1 {
            throw f.error(auths[1], "\(auths[0]) and \(auths[1]) cannot be configured at the same time")
        }
        var redirects: Pairs = []
        if let b = try f.bool("followRedirects") { redirects.append(("follow_redirects", Self.bool(b))) }
        if let b = try f.bool("enableHttp2") { redirects.append(("enable_http2", Self.bool(b))) }
        var proxy: Pairs = []
        if let p = try f.string("proxyUrl"), !p.isEmpty { proxy.append(("proxy_url", Self.str(p))) }
        var tlsPairs: Pairs = []
        if let t = f.node("tlsConfig") { tlsPairs.append(("tls_config", try tls(t, f.context + ".tlsConfig", files: isService))) }
        var bearer: Pairs = []
        if let s = f.node("bearerTokenSecret") {
            bearer.append(("authorization", Self.map([("credentials_file", Self.str(try secretPath(s, f.context + ".bearerTokenSecret")))])))
        }
        var basic: Pairs = []
        if let b = f.node("basicAuth") {
            let bf = try YAMLFields(b, file: file, context: f.context + ".basicAuth", allowed: ["username", "password"])
            var pairs: Pairs = []
            if let u = bf.node("username") { pairs.append(("username_file", Self.str(try secretPath(u, bf.context + ".username")))) }
            if let p = bf.node("password") { pairs.append(("password_file", Self.str(try secretPath(p, bf.context + ".password")))) }
            basic.append(("basic_auth", Self.map(pairs)))
        }
        var oauth: Pairs = []
        if let o = f.node("oauth2") {
            let of = try YAMLFields(
                o, file: file, context: f.context + ".oauth2",
                allowed: ["clientId", "clientSecret", "tokenUrl", "scopes", "endpointParams", "tlsConfig", "proxyUrl"])
            guard let id = of.node("clientId") else { throw ConfigError(file: file, line: of.line, message: "\(of.context): clientId is required") }
            guard let secret = of.node("clientSecret") else {
                throw ConfigError(file: file, line: of.line, message: "\(of.context): clientSecret is required")
            }
            guard let url = try of.string("tokenUrl"), url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw ConfigError(file: file, line: of.line, message: "\(of.context): tokenUrl must be an http(s) URL")
            }
            // Prometheus takes the client id as a value: read from its mounted file at load time.
            let idPath = try secretOrConfigMap(id, of.context + ".clientId")
            guard let clientID = ConfigLoader.readFile(idPath)?.trimmingCharacters(in: .whitespacesAndNewlines) else {
                throw ConfigError(file: file, line: of.line, message: "\(of.context).clientId: cannot read \(idPath)")
            }
            var pairs: Pairs = [
                ("client_id", Self.str(clientID)),
                ("client_secret_file", Self.str(try secretPath(secret, of.context + ".clientSecret"))), ("token_url", Self.str(url)),
            ]
            let scopes = try of.stringList("scopes")
            if !scopes.isEmpty { pairs.append(("scopes", Self.strList(scopes))) }
            let params = try of.stringMap("endpointParams")
            if !params.isEmpty { pairs.append(("endpoint_params", Self.map(params.sorted { $0.0 < $1.0 }.map { ($0.0, Self.str($0.1)) }))) }
            if let p = try of.string("proxyUrl") { pairs.append(("proxy_url", Self.str(p))) }
            if let t = of.node("tlsConfig") { pairs.append(("tls_config", try tls(t, of.context + ".tlsConfig", files: false))) }
            oauth.append(("oauth2", Self.map(pairs)))
        }
        var authorization: Pairs = []
        if let a = f.node("authorization") {
            let af = try YAMLFields(a, file: file, context: f.context + ".authorization", allowed: ["type", "credentials"])
            let type = Substring(try af.string("type") ?? "Bearer").trimmingSpaces()
            if type.lowercased() == "basic" { throw af.error("type", "authorization type cannot be set to \"basic\", use \"basicAuth\" instead") }
            guard let c = af.node("credentials") else { throw ConfigError(file: file, line: af.line, message: "\(af.context): credentials are required") }
            authorization.append(
                ("authorization", Self.map([("type", Self.str(type.isEmpty ? "Bearer" : type)), ("credentials_file", Self.str(try secretPath(c, af.context + ".credentials")))])))
        }
        var fileBearer: Pairs = []
        if isService, let path = try f.string("bearerTokenFile"), !path.isEmpty {
            fileBearer.append(("bearer_token_file", Self.str(path)))
        }
        if isService {
            return redirects + proxy + oauth + tlsPairs + fileBearer + bearer + basic + authorization
        }
        return redirects + tlsPairs + bearer + basic + oauth + proxy + authorization
    }
}
