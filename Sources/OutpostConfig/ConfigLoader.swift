import OutpostModel
import Relabel
import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a configuration file: YAML → typed values (``parse(yaml:file:)``), then the cross-field
/// checks Prometheus makes (``validate(_:)``). Every error carries file and line.
public enum ConfigLoader {
    /// Reads and parses `path`, adding the jobs of the monitor documents `monitors` names.
    public static func load(path: String, monitors: MonitorSettings? = nil) throws(ConfigError) -> OutpostConfiguration {
        guard let text = readFile(path) else {
            throw ConfigError(file: path, line: 0, message: "cannot read file")
        }
        var config = try parse(yaml: text, file: path)
        if let monitors { try addMonitors(monitors, to: &config) }
        return config
    }

    /// Adds the jobs of the monitor documents `monitors` names. A monitor that cannot be turned
    /// into jobs is skipped as a whole and listed in `monitorRejections`, as prometheus-operator
    /// skips it.
    public static func addMonitors(_ monitors: MonitorSettings, to config: inout OutpostConfiguration) throws(ConfigError) {
        let (jobs, rejected) = try Monitors.jobs(monitors)
        config.monitorSettings = monitors
        config.monitorRejections = rejected
        var names = Set(config.scrapeConfigs.map(\.jobName))
        var made: [(origin: String, job: ScrapeConfig)] = []
        var failed: Set<String> = []
        for job in jobs where !failed.contains(job.origin) {
            do throws(ConfigError) {
                var c = try parseScrapeConfig(
                    job.node, index: config.scrapeConfigs.count, global: config.global, file: job.file, context: job.origin)
                guard names.insert(c.jobName).inserted else {
                    throw ConfigError(file: job.file, line: job.line, message: "\(job.origin): job \(c.jobName) already exists")
                }
                c.fromMonitor = true
                made.append((job.origin, c))
            } catch {
                // Like prometheus-operator, a monitor with a bad endpoint is skipped as a whole.
                failed.insert(job.origin)
                config.monitorRejections.append(
                    MonitorRejection(file: job.file, line: error.line == 0 ? job.line : error.line, message: error.message))
            }
        }
        config.scrapeConfigs += made.filter { !failed.contains($0.origin) }.map(\.job)
    }

    static let secretKeys: Set<String> = ["password", "credentials", "client_secret", "bearer_token", "secret_key", "key"]

    /// `node` with every secret value (passwords, tokens, client secrets, inline keys) shown as `<secret>`.
    static func redactingSecrets(_ node: Node) -> Node {
        switch node {
        case .mapping(let m):
            return .mapping(
                .init(m.map { k, v in
                    if let name = k.string, secretKeys.contains(name), case .scalar = v { return (k, Node("<secret>")) }
                    return (k, redactingSecrets(v))
                }))
        case .sequence(let s):
            return .sequence(.init(s.map(redactingSecrets)))
        default:
            return node
        }
    }

    /// Parses configuration text; `file` is used in error messages.
    public static func parse(yaml text: String, file: String) throws(ConfigError) -> OutpostConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw yamlError(error, file: file)
        } catch {
            throw ConfigError(file: file, line: 0, message: "\(error)")
        }
        var config = OutpostConfiguration()
        config.file = file
        guard let root else { return config }  // an empty file is a valid, empty configuration
        let top = try YAMLFields(
            root, file: file, context: "config", allowed: ["global", "scrape_configs", "remote_write", "monitors"])
        if let g = top.node("global") {
            config.global = try parseGlobal(g, file: file)
        }
        for (i, node) in try top.sequence("scrape_configs").enumerated() {
            config.scrapeConfigs.append(try parseScrapeConfig(node, index: i, global: config.global, file: file))
        }
        if let m = top.node("monitors") {
            let mf = try YAMLFields(m, file: file, context: "monitors", allowed: ["dir", "secrets_dir", "kubeconfig_file"])
            guard let dir = try mf.string("dir"), !dir.isEmpty else {
                throw ConfigError(file: file, line: mf.line, message: "monitors: dir is required")
            }
            let base = directory(of: file)
            var section = MonitorsSection(dir: resolve(dir, in: base))
            section.secretsDir = try mf.string("secrets_dir").map { resolve($0, in: base) }
            section.kubeconfigFile = try mf.string("kubeconfig_file").map { resolve($0, in: base) }
            config.monitors = section
        }
        for (i, node) in try top.sequence("remote_write").enumerated() {
            config.remoteWrite.append(try parseRemoteWrite(node, index: i, file: file))
        }
        try validate(config, lines: top)
        return config
    }

    // MARK: - Sections

    static func parseGlobal(_ node: Node, file: String) throws(ConfigError) -> GlobalConfig {
        let f = try YAMLFields(
            node, file: file, context: "global",
            allowed: [
                "scrape_interval", "scrape_timeout", "external_labels", "scrape_protocols", "body_size_limit",
                "metric_name_validation_scheme", "metric_name_escaping_scheme",
            ])
        var g = GlobalConfig()
        if f.has("scrape_protocols") { g.scrapeProtocols = try scrapeProtocols(f, context: "for global config") }
        g.bodySizeLimit = try byteSize(f, "body_size_limit") ?? 0
        (g.nameValidation, g.nameEscaping) = try nameSchemes(f, inherited: nil)
        if let d = try f.duration("scrape_interval") {
            guard d > .zero else { throw f.error("scrape_interval", "must be greater than 0") }
            g.scrapeInterval = d
        }
        if let d = try f.duration("scrape_timeout") {
            guard d > .zero else { throw f.error("scrape_timeout", "must be greater than 0") }
            g.scrapeTimeout = d
            guard d <= g.scrapeInterval else {
                throw f.error("scrape_timeout", "global scrape timeout greater than scrape interval")
            }
        } else if g.scrapeTimeout > g.scrapeInterval {
            g.scrapeTimeout = g.scrapeInterval
        }
        let external = try f.stringMap("external_labels")
        for (name, _) in external where !isValidLabelName(name) || name.hasPrefix("__") {
            throw f.error("external_labels", "\"\(name)\" is not a valid label name")
        }
        g.externalLabels = Labels(external)
        return g
    }

    static func parseScrapeConfig(
        _ node: Node, index: Int, global: GlobalConfig, file: String, context: String? = nil
    ) throws(ConfigError) -> ScrapeConfig {
        let f = try YAMLFields(
            node, file: file, context: context ?? "scrape_configs[\(index)]",
            allowed: Set<String>([
                "job_name", "scrape_interval", "scrape_timeout", "metrics_path", "scheme", "params", "honor_labels",
                "honor_timestamps", "track_timestamps_staleness", "static_configs", "relabel_configs",
                "metric_relabel_configs", "sample_limit", "label_limit", "label_name_length_limit",
                "label_value_length_limit", "target_limit", "keep_dropped_targets", "scrape_protocols",
                "fallback_scrape_protocol", "body_size_limit", "enable_compression", "metric_name_validation_scheme",
                "metric_name_escaping_scheme",
            ]).union(HTTPClientConfig.keys).union(discoveryKeys))
        var c = ScrapeConfig()
        guard let job = try f.string("job_name"), !job.isEmpty else {
            throw ConfigError(file: file, line: f.line, message: "scrape_configs[\(index)]: job_name is required")
        }
        c.jobName = job
        // Any change to the job's settings restarts its loops on reload, as Prometheus reloads a
        // scrape pool whose config changed.
        c.fingerprint = String(FNV1a64.hash((try? Yams.serialize(node: node)) ?? ""), radix: 16)
        c.printable = (try? Yams.serialize(node: redactingSecrets(node))) ?? ""
        c.scrapeInterval = try f.duration("scrape_interval") ?? global.scrapeInterval
        guard c.scrapeInterval > .zero else { throw f.error("scrape_interval", "must be greater than 0") }
        if let t = try f.duration("scrape_timeout") {
            guard t > .zero else { throw f.error("scrape_timeout", "must be greater than 0") }
            c.scrapeTimeout = t
        } else {
            c.scrapeTimeout = min(global.scrapeTimeout, c.scrapeInterval)
        }
        guard c.scrapeTimeout <= c.scrapeInterval else {
            throw f.error(
                "scrape_timeout", "scrape timeout greater than scrape interval for scrape config with job name \"\(job)\"")
        }
        if let p = try f.string("metrics_path") {
            guard p.hasPrefix("/") else { throw f.error("metrics_path", "must start with /") }
            c.metricsPath = p
        }
        if let s = try f.string("scheme") {
            guard s == "http" || s == "https" else { throw f.error("scheme", "must be http or https, got \"\(s)\"") }
            c.scheme = s
        }
        c.params = try f.stringListMap("params")
        c.honorLabels = try f.bool("honor_labels") ?? false
        c.honorTimestamps = try f.bool("honor_timestamps") ?? true
        c.trackTimestampsStaleness = try f.bool("track_timestamps_staleness") ?? false
        c.relabelConfigs = try parseRelabelConfigs(f, "relabel_configs")
        c.metricRelabelConfigs = try parseRelabelConfigs(f, "metric_relabel_configs")
        c.sampleLimit = try f.int("sample_limit") ?? 0
        c.labelLimit = try f.int("label_limit") ?? 0
        c.labelNameLengthLimit = try f.int("label_name_length_limit") ?? 0
        c.labelValueLengthLimit = try f.int("label_value_length_limit") ?? 0
        c.targetLimit = try f.int("target_limit") ?? 0
        c.keepDroppedTargets = try f.int("keep_dropped_targets") ?? 0
        let forJob = "for scrape config with job name \"\(job)\""
        c.scrapeProtocols =
            f.has("scrape_protocols") ? try scrapeProtocols(f, context: forJob) : global.scrapeProtocols
        if let name = try f.string("fallback_scrape_protocol") {
            guard let p = ScrapeProtocol(rawValue: name) else {
                throw f.error(
                    "fallback_scrape_protocol",
                    "invalid fallback_scrape_protocol \(forJob): unknown scrape protocol \(name), supported: \(supportedProtocols)")
            }
            guard p != .prometheusProto else { throw f.error("fallback_scrape_protocol", protobufUnsupported) }
            c.fallbackScrapeProtocol = p
        }
        c.bodySizeLimit = try byteSize(f, "body_size_limit") ?? global.bodySizeLimit
        c.enableCompression = try f.bool("enable_compression") ?? true
        (c.nameValidation, c.nameEscaping) = try nameSchemes(f, inherited: global)
        c.http = try parseHTTPClientConfig(f)
        for (j, sc) in try f.sequence("static_configs").enumerated() {
            let sf = try YAMLFields(
                sc, file: file, context: "scrape_configs[\(index)].static_configs[\(j)]", allowed: ["targets", "labels"])
            var s = StaticConfig()
            s.targets = try sf.stringList("targets")
            for t in s.targets {
                guard !t.isEmpty, !t.contains("/"), !t.contains(" ") else {
                    throw sf.error("targets", "\"\(t)\" is not a valid address: use host:port, without scheme or path")
                }
            }
            s.labels = try sf.stringMap("labels")
            for (name, _) in s.labels where !isValidLabelName(name) {
                throw sf.error("labels", "\"\(name)\" is not a valid label name")
            }
            c.staticConfigs.append(s)
        }
        c.serviceDiscovery = try parseServiceDiscovery(f)
        return c
    }

    static let supportedProtocols =
        "[" + ScrapeProtocol.allCases.map(\.rawValue).sorted().joined(separator: " ") + "]"
    static let protobufUnsupported =
        "PrometheusProto is not supported by Outpost (it reads the text and OpenMetrics formats); remove it"

    /// `scrape_protocols`: known names, no repeats, not empty.
    static func scrapeProtocols(_ f: YAMLFields, context: String) throws(ConfigError) -> [ScrapeProtocol] {
        let names = try f.stringList("scrape_protocols")
        guard !names.isEmpty else { throw f.error("scrape_protocols", "scrape_protocols cannot be empty") }
        var out: [ScrapeProtocol] = []
        for name in names {
            guard let p = ScrapeProtocol(rawValue: name) else {
                throw f.error(
                    "scrape_protocols", "unknown scrape protocol \(name), supported: \(supportedProtocols) \(context)")
            }
            guard p != .prometheusProto else { throw f.error("scrape_protocols", protobufUnsupported) }
            guard !out.contains(p) else {
                throw f.error("scrape_protocols", "duplicated protocol in scrape_protocols, got \(names)")
            }
            out.append(p)
        }
        return out
    }

    /// `metric_name_validation_scheme` and `metric_name_escaping_scheme`, with Prometheus 3's
    /// defaults: UTF-8 names allowed, escaping `allow-utf-8` (`underscores` under legacy validation).
    static func nameSchemes(
        _ f: YAMLFields, inherited: GlobalConfig?
    ) throws(ConfigError) -> (NameValidationScheme, String) {
        var validation = inherited?.nameValidation ?? .utf8
        if let v = try f.string("metric_name_validation_scheme") {
            guard let scheme = NameValidationScheme(rawValue: v) else {
                throw f.error("metric_name_validation_scheme", "unrecognized ValidationScheme: \"\(v)\"")
            }
            validation = scheme
        }
        var escaping = validation == .utf8 ? "allow-utf-8" : "underscores"
        if let inherited, !f.has("metric_name_validation_scheme"), !f.has("metric_name_escaping_scheme") {
            escaping = inherited.nameEscaping
        }
        if let e = try f.string("metric_name_escaping_scheme") {
            guard ["allow-utf-8", "underscores", "dots", "values"].contains(e) else {
                throw f.error(
                    "metric_name_escaping_scheme",
                    "unknown name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got \"\(e)\"")
            }
            escaping = e
        }
        if escaping == "allow-utf-8" && validation == .legacy {
            throw f.error(
                "metric_name_escaping_scheme", "utf8 metric names requested but validation scheme is not set to UTF8")
        }
        return (validation, escaping)
    }

    /// A size such as `10MB`, `512KiB` or `1GB512MB` (units of 1024, as Prometheus reads them); 0 allowed.
    static func byteSize(_ f: YAMLFields, _ key: String) throws(ConfigError) -> Int? {
        guard let text = try f.string(key) else { return nil }
        guard let n = ByteSize.parse(text) else {
            throw f.error(key, "not a valid size: \"\(text)\" (use a number and a unit: B, KB, MB, GB, TB, KiB, MiB, …)")
        }
        return n
    }

    static func parseRemoteWrite(_ node: Node, index: Int, file: String) throws(ConfigError) -> RemoteWriteConfig {
        let f = try YAMLFields(
            node, file: file, context: "remote_write[\(index)]",
            allowed: Set([
                "url", "name", "headers", "remote_timeout", "queue_config", "write_relabel_configs", "sigv4",
                "protobuf_message", "metadata_config", "send_exemplars", "send_native_histograms",
            ])
                .union(HTTPClientConfig.keys))
        var r = RemoteWriteConfig()
        guard let url = try f.string("url"), !url.isEmpty else {
            throw ConfigError(file: file, line: f.line, message: "remote_write[\(index)]: url is required")
        }
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 else {
            throw f.error("url", "must be an http:// or https:// URL, got \"\(url)\"")
        }
        r.url = url
        r.name = try f.string("name") ?? ""
        if r.name.isEmpty {
            // Prometheus derives the name from a hash of the endpoint's config; a hash of the URL is
            // as stable across restarts and keeps the WAL cursor when unrelated fields change.
            let h = FNV1a64.hash(url)
            r.name = String(String(h, radix: 16).prefix(6))
        }
        r.headers = try f.stringMap("headers")
        r.http = try parseHTTPClientConfig(f, sigv4: true)
        r.writeRelabelConfigs = try parseRelabelConfigs(f, "write_relabel_configs")
        let reserved = ["host", "authorization", "content-encoding", "content-type", "x-prometheus-remote-write-version",
                        "user-agent", "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "www-authenticate"]
        for (name, _) in r.headers where reserved.contains(name.lowercased()) {
            throw f.error("headers", "\(name) is a reserved header. It must not be changed")
        }
        if let message = try f.string("protobuf_message") {
            guard let m = RemoteWriteConfig.ProtobufMessage(rawValue: message) else {
                throw f.error(
                    "protobuf_message",
                    "unknown remote write protobuf message \(message), supported: prometheus.WriteRequest, io.prometheus.write.v2.Request")
            }
            r.protobufMessage = m
        }
        r.sendExemplars = try f.bool("send_exemplars") ?? false
        if try f.bool("send_native_histograms") == true {
            throw f.error("send_native_histograms", "native histograms are not scraped by Outpost; remove send_native_histograms or set it to false")
        }
        if let m = f.node("metadata_config") {
            let mf = try YAMLFields(
                m, file: file, context: "remote_write[\(index)].metadata_config",
                allowed: ["send", "send_interval", "max_samples_per_send"])
            r.metadataConfig.send = try mf.bool("send") ?? true
            if let d = try mf.duration("send_interval") {
                guard d > .zero else { throw mf.error("send_interval", "must be greater than 0") }
                r.metadataConfig.sendInterval = d
            }
            r.metadataConfig.maxSamplesPerSend = try mf.int("max_samples_per_send", minimum: 1) ?? 2_000
        }
        if let t = try f.duration("remote_timeout") {
            guard t > .zero else { throw f.error("remote_timeout", "must be greater than 0") }
            r.remoteTimeout = t
        }
        if let q = f.node("queue_config") {
            let qf = try YAMLFields(
                q, file: file, context: "remote_write[\(index)].queue_config",
                allowed: [
                    "capacity", "max_shards", "min_shards", "max_samples_per_send", "batch_send_deadline",
                    "min_backoff", "max_backoff", "sample_age_limit", "retry_on_http_429",
                ])
            r.queueConfig.capacity = try qf.int("capacity", minimum: 1) ?? r.queueConfig.capacity
            r.queueConfig.maxShards = try qf.int("max_shards", minimum: 1) ?? r.queueConfig.maxShards
            r.queueConfig.minShards = try qf.int("min_shards", minimum: 1) ?? r.queueConfig.minShards
            r.queueConfig.maxSamplesPerSend =
                try qf.int("max_samples_per_send", minimum: 1) ?? r.queueConfig.maxSamplesPerSend
            r.queueConfig.batchSendDeadline = try qf.duration("batch_send_deadline") ?? r.queueConfig.batchSendDeadline
            r.queueConfig.minBackoff = try qf.duration("min_backoff") ?? r.queueConfig.minBackoff
            r.queueConfig.maxBackoff = try qf.duration("max_backoff") ?? r.queueConfig.maxBackoff
            r.queueConfig.sampleAgeLimit = try qf.duration("sample_age_limit") ?? .zero
            r.queueConfig.retryOnHTTP429 = try qf.bool("retry_on_http_429") ?? r.queueConfig.retryOnHTTP429
            guard r.queueConfig.minShards <= r.queueConfig.maxShards else {
                throw qf.error("min_shards", "must not be greater than max_shards")
            }
            guard r.queueConfig.minBackoff <= r.queueConfig.maxBackoff else {
                throw qf.error("min_backoff", "must not be greater than max_backoff")
            }
            guard r.queueConfig.batchSendDeadline > .zero else {
                throw qf.error("batch_send_deadline", "must be greater than 0")
            }
        }
        return r
    }

    /// A list of relabel rules; each error points at the rule's own field.
    static func parseRelabelConfigs(_ parent: YAMLFields, _ key: String) throws(ConfigError) -> [RelabelRule] {
        var rules: [RelabelRule] = []
        for (i, node) in try parent.sequence(key).enumerated() {
            let f = try YAMLFields(
                node, file: parent.file, context: "\(parent.context).\(key)[\(i)]",
                allowed: ["source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action"])
            var action = RelabelRule.Action.replace
            if let text = try f.string("action") {
                guard let a = RelabelRule.parseAction(text) else {
                    throw f.error("action", "unknown relabel action \"\(text)\"")
                }
                action = a
            }
            let modulus = try f.int("modulus") ?? 0
            do {
                rules.append(
                    try RelabelRule(
                        action: action, sourceLabels: try f.stringList("source_labels"),
                        separator: try f.string("separator") ?? RelabelRule.defaultSeparator,
                        regex: try f.string("regex") ?? RelabelRule.defaultRegex, modulus: UInt64(modulus),
                        targetLabel: try f.string("target_label") ?? "",
                        replacement: try f.string("replacement") ?? RelabelRule.defaultReplacement))
            } catch let error as RelabelConfigError {
                let field = f.has(error.field) ? error.field : (f.has("action") ? "action" : error.field)
                throw ConfigError(
                    file: parent.file, line: f.has(field) ? f.lineOf(field) : f.line,
                    message: "\(f.context): \(error.field): \(error.message)")
            } catch let error as ConfigError {
                throw error
            } catch {
                throw ConfigError(file: parent.file, line: f.line, message: "\(f.context): \(error)")
            }
        }
        return rules
    }

    // MARK: - Cross-field checks

    static func validate(_ config: OutpostConfiguration, lines top: YAMLFields) throws(ConfigError) {
        var jobs: Set<String> = []
        for job in config.scrapeConfigs where !jobs.insert(job.jobName).inserted {
            throw ConfigError(
                file: config.file, line: top.lineOf("scrape_configs"),
                message: "found multiple scrape configs with job name \"\(job.jobName)\"")
        }
        var names: Set<String> = []
        for rw in config.remoteWrite where !names.insert(rw.name).inserted {
            throw ConfigError(
                file: config.file, line: top.lineOf("remote_write"),
                message: "found multiple remote write configs with job name \"\(rw.name)\"")
        }
    }

    static func yamlError(_ error: YamlError, file: String) -> ConfigError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return ConfigError(file: file, line: mark.line, message: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigError(
                file: file, line: context.mark.line,
                message: "field \(duplicates.joined(separator: ", ")) given twice")
        default:
            return ConfigError(file: file, line: 0, message: "invalid YAML: \(error)")
        }
    }

    static func readFile(_ path: String) -> String? {
        guard let fp = fopen(path, "rb") else { return nil }
        defer { fclose(fp) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, fp) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        if ferror(fp) != 0 { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Whether `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
public func isValidLabelName(_ name: String) -> Bool {
    guard let first = name.utf8.first else { return false }
    func letter(_ b: UInt8) -> Bool {
        (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || b == 95
    }
    guard letter(first) else { return false }
    return name.utf8.allSatisfy { letter($0) || ($0 >= 48 && $0 <= 57) }
}
