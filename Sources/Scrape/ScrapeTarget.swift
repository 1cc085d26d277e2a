import Discovery
import OutpostConfig
import OutpostModel
import Relabel

/// How a target's scraped series are turned into samples: the scrape options of its job.
public struct ScrapeOptions: Sendable {
    public var honorLabels = false
    public var honorTimestamps = true
    public var trackTimestampsStaleness = false
    public var metricRelabel: [RelabelRule] = []
    /// 0: no limit.
    public var sampleLimit = 0
    public var labelLimit = 0
    public var labelNameLengthLimit = 0
    public var labelValueLengthLimit = 0
    public var nameValidation = NameValidationScheme.utf8
    /// What the loop asks for and how it reads the answer.
    public var scrapeProtocols: [ScrapeProtocol] = ScrapeProtocol.defaults
    public var fallbackProtocol: ScrapeProtocol? = nil
    public var nameEscaping = "allow-utf-8"
    public var bodySizeLimit = 0
    public var enableCompression = true
    public init() {}

    init(_ job: ScrapeConfig) {
        honorLabels = job.honorLabels
        honorTimestamps = job.honorTimestamps
        trackTimestampsStaleness = job.trackTimestampsStaleness
        metricRelabel = job.metricRelabelConfigs
        sampleLimit = job.sampleLimit
        labelLimit = job.labelLimit
        labelNameLengthLimit = job.labelNameLengthLimit
        labelValueLengthLimit = job.labelValueLengthLimit
        nameValidation = job.nameValidation
        scrapeProtocols = job.scrapeProtocols
        fallbackProtocol = job.fallbackScrapeProtocol
        nameEscaping = job.nameEscaping
        bodySizeLimit = job.bodySizeLimit
        enableCompression = job.enableCompression
    }
}

/// What target relabeling made of one discovered target.
public enum TargetOutcome: Sendable {
    case active(ScrapeTarget)
    /// Dropped by relabeling (or left without an address), with the labels discovery gave it.
    case dropped(discoveredLabels: [(name: String, value: String)])
    /// Relabeling produced something unusable (an invalid address or interval).
    case invalid(discoveredLabels: [(name: String, value: String)], reason: String)
}

extension TargetOutcome {
    /// The target, when it is active.
    public var target: ScrapeTarget? {
        if case .active(let t) = self { return t }
        return nil
    }
}

/// One target of one job: its final labels, the URL to scrape and the options of its job.
public struct ScrapeTarget: Sendable {
    /// Identifies the target across reloads: job, URL, final labels and settings.
    public var key: String
    public var job: String
    public var url: String
    /// The labels every scraped series gets (`job`, `instance`, group labels), without `__` labels.
    public var labels: Labels
    /// The labels discovery produced, before relabeling, for `/api/v1/targets`.
    public var discoveredLabels: [(name: String, value: String)]
    public var interval: Duration
    public var timeout: Duration
    public var options: ScrapeOptions
    /// Set when the target must not be scraped (its pool exceeds `target_limit`): every scrape
    /// fails with this reason.
    public var forcedError: String? = nil

    /// Builds the target the way Prometheus populates target labels: discovered and group labels,
    /// then `job`, `__scheme__`, `__metrics_path__`, `__scrape_interval__`, `__scrape_timeout__` and
    /// `__param_*` where not already set; then `relabel_configs`; a target without `__address__` is
    /// dropped; `instance` defaults to `__address__`; `__` labels are removed.
    public static func make(job: ScrapeConfig, group: TargetGroup, target: [(String, String)]) -> TargetOutcome {
        var b = LabelsBuilder()
        for (n, v) in group.labels { b.set(n, v) }
        for (n, v) in target { b.set(n, v) }
        let defaults: [(String, String)] = [
            ("job", job.jobName), ("__scheme__", job.scheme), ("__metrics_path__", job.metricsPath),
            ("__scrape_interval__", PromDuration.format(job.scrapeInterval)),
            ("__scrape_timeout__", PromDuration.format(job.scrapeTimeout)),
        ]
        for (n, v) in defaults where b.get(n) == nil { b.set(n, v) }
        for p in job.params where !p.values.isEmpty && b.get("__param_" + p.name) == nil {
            b.set("__param_" + p.name, p.values[0])
        }
        let discovered = b.labels().pairs
        guard Relabeler.process(&b, job.relabelConfigs) else { return .dropped(discoveredLabels: discovered) }
        guard let address = b.get("__address__"), !address.isEmpty else {
            return .dropped(discoveredLabels: discovered)
        }
        if address.contains("/") {
            return .invalid(discoveredLabels: discovered, reason: "\"\(address)\" is not a valid hostname")
        }
        guard let interval = PromDuration.parse(b.get("__scrape_interval__") ?? ""), interval > .zero else {
            return .invalid(discoveredLabels: discovered, reason: "error parsing scrape interval")
        }
        guard let timeout = PromDuration.parse(b.get("__scrape_timeout__") ?? ""), timeout > .zero else {
            return .invalid(discoveredLabels: discovered, reason: "error parsing scrape timeout")
        }
        guard timeout <= interval else {
            return .invalid(
                discoveredLabels: discovered,
                reason: "scrape timeout cannot be greater than scrape interval (\"\(PromDuration.format(timeout))\" > "
                    + "\"\(PromDuration.format(interval))\")")
        }
        if b.get("instance") == nil { b.set("instance", address) }

        // The URL: scheme, address, path, then the job's params, where a `__param_<name>` label replaces
        // the first value of <name> (or adds it); keys sorted, as Go's url.Values.Encode writes them.
        var params: [String: [String]] = [:]
        for p in job.params { params[p.name, default: []] += p.values }
        for name in b.allNames where name.hasPrefix("__param_") {
            let param = String(name.dropFirst("__param_".count))
            guard let v = b.get(name) else { continue }
            var values = params[param] ?? []
            if values.isEmpty { values = [v] } else { values[0] = v }
            params[param] = values
        }
        var query: [String] = []
        for key in params.keys.sorted() {
            for v in params[key] ?? [] { query.append(queryEscape(key) + "=" + queryEscape(v)) }
        }
        let scheme = b.get("__scheme__") ?? job.scheme
        let path = b.get("__metrics_path__") ?? job.metricsPath
        let url = scheme + "://" + address + path + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))

        for name in b.allNames where name.hasPrefix("__") { b.remove(name) }
        let labels = b.labels()
        let key = job.jobName + "|" + url + "|" + labels.description + "|" + PromDuration.format(interval) + "|"
            + PromDuration.format(timeout) + "|" + job.fingerprint
        return .active(
            ScrapeTarget(
                key: key, job: job.jobName, url: url, labels: labels, discoveredLabels: discovered,
                interval: interval, timeout: timeout, options: ScrapeOptions(job)))
    }

    /// Where in its interval this target scrapes, spread by a hash of the target as Prometheus does,
    /// so that many targets do not all scrape at the same instant, and stable across restarts.
    public func offset(nowNanoseconds: Int64, seed: UInt64) -> Duration {
        let interval = max(Int64(1), interval.milliseconds * 1_000_000)
        var h = FNV1a64()
        h.combine(key)
        let base = interval - nowNanoseconds % interval
        let spread = Int64(bitPattern: (h.value ^ seed) % UInt64(interval))
        var next = base + spread
        if next > interval { next -= interval }
        return .nanoseconds(next)
    }
}

/// Go's `url.QueryEscape`: unreserved bytes stay, space becomes `+`, everything else `%XX`.
func queryEscape(_ s: String) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    for b in s.utf8 {
        let unreserved = (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)
            || b == 45 || b == 46 || b == 95 || b == 126
        if unreserved {
            out.append(b)
        } else if b == 32 {
            out.append(43)
        } else {
            out += [37, hex[Int(b >> 4)], hex[Int(b & 15)]]
        }
    }
    return String(decoding: out, as: UTF8.self)
}
