import OutpostModel
import Relabel

/// The whole configuration file, field by field as Prometheus' agent reads it.
public struct OutpostConfiguration: Sendable {
    public var global = GlobalConfig()
    public var scrapeConfigs: [ScrapeConfig] = []
    public var remoteWrite: [RemoteWriteConfig] = []
    /// The file the configuration came from, for messages.
    public var file: String = ""
    /// Monitor documents that could not be turned into jobs, and why.
    public var monitorRejections: [MonitorRejection] = []
    /// The file's `monitors:` section (Outpost's own): where ServiceMonitor and PodMonitor
    /// documents are read from, as `--monitors.dir` and its companions say it (the flags win).
    public var monitors: MonitorsSection? = nil
    /// The monitor settings in force after loading (flags or file), nil when none are read.
    public var monitorSettings: MonitorSettings? = nil
    public init() {}
}

/// `monitors:` — `dir`, `secrets_dir`, `kubeconfig_file`; relative paths from the file's directory.
public struct MonitorsSection: Sendable {
    public var dir: String
    public var secretsDir: String? = nil
    public var kubeconfigFile: String? = nil
    public init(dir: String) { self.dir = dir }
}

/// `global:`: defaults for every job, and the labels added to everything sent.
public struct GlobalConfig: Sendable {
    public var scrapeInterval: Duration = .seconds(60)
    public var scrapeTimeout: Duration = .seconds(10)
    /// Added to every series on its way out, unless the series has a label of the same name.
    public var externalLabels: Labels = .empty
    /// Defaults for every job (see ``ScrapeConfig``).
    public var scrapeProtocols: [ScrapeProtocol] = ScrapeProtocol.defaults
    public var bodySizeLimit = 0
    public var nameValidation = NameValidationScheme.utf8
    public var nameEscaping = "allow-utf-8"
    public init() {}
}

/// One `scrape_configs` entry: a job and how to scrape its targets.
public struct ScrapeConfig: Sendable {
    public var jobName: String = ""
    /// A hash of the job's configuration text: equal for equal settings.
    public var fingerprint: String = ""
    /// The job as Prometheus YAML, secrets shown as `<secret>` (`outpost check config --print`).
    public var printable: String = ""
    /// Made from a ServiceMonitor or PodMonitor: its sharding and node selection are already in it.
    public var fromMonitor = false
    public var scrapeInterval: Duration = .seconds(60)
    public var scrapeTimeout: Duration = .seconds(10)
    public var metricsPath: String = "/metrics"
    public var scheme: String = "http"
    /// URL query parameters, each name with one or more values.
    public var params: [(name: String, values: [String])] = []
    public var honorLabels = false
    public var honorTimestamps = true
    /// Mark series that carry their own timestamps stale when they disappear (off by default, as in Prometheus).
    public var trackTimestampsStaleness = false
    public var staticConfigs: [StaticConfig] = []
    /// `file_sd_configs`, `http_sd_configs` and `kubernetes_sd_configs`.
    public var serviceDiscovery: [ServiceDiscoveryConfig] = []
    /// Applied to each discovered target's labels before scraping.
    public var relabelConfigs: [RelabelRule] = []
    /// Applied to each scraped series (once per series, through the scrape cache).
    public var metricRelabelConfigs: [RelabelRule] = []
    /// 0 means no limit, for every limit below.
    public var sampleLimit = 0
    public var labelLimit = 0
    public var labelNameLengthLimit = 0
    public var labelValueLengthLimit = 0
    public var targetLimit = 0
    /// How many targets dropped by relabeling are kept for `/api/v1/targets`; 0 keeps all.
    public var keepDroppedTargets = 0
    /// The formats offered to targets, most preferred first.
    public var scrapeProtocols: [ScrapeProtocol] = ScrapeProtocol.defaults
    /// The format assumed when a target sends no usable `Content-Type`. Prometheus 3 fails such a
    /// scrape when this is unset; Outpost reads it as the text format, as Prometheus 2 did, so a
    /// target that worked under the old agent keeps working.
    public var fallbackScrapeProtocol: ScrapeProtocol? = nil
    /// The most bytes (after decompression) a scrape may return; 0: no limit.
    public var bodySizeLimit = 0
    /// Ask targets for gzip.
    public var enableCompression = true
    public var nameValidation = NameValidationScheme.utf8
    /// The `escaping=` value offered with the formats that take one.
    public var nameEscaping = "allow-utf-8"
    /// Authentication, TLS and proxy for the targets.
    public var http = HTTPClientConfig()
    public init() {}
}

/// A `static_configs` entry: addresses and the labels they share.
public struct StaticConfig: Sendable {
    public var targets: [String] = []
    public var labels: [(String, String)] = []
    public init() {}
}

/// One `remote_write` entry.
public struct RemoteWriteConfig: Sendable {
    public var url: String = ""
    /// The configured name, or a stable one derived from the URL (as Prometheus derives one from the config).
    public var name: String = ""
    public var headers: [(String, String)] = []
    /// Authentication, TLS and proxy for the receiver.
    public var http = HTTPClientConfig()
    public var remoteTimeout: Duration = .seconds(30)
    public var queueConfig = QueueConfig()
    /// Applied to each series after external labels, before sending; a dropped series is not sent.
    public var writeRelabelConfigs: [RelabelRule] = []
    /// The wire message: remote-write 1.0 (the default) or 2.0.
    public var protobufMessage = ProtobufMessage.v1
    /// Send the exemplars scraped with samples (off by default, as in Prometheus).
    public var sendExemplars = false
    /// 1.0 only: metric metadata sent in requests of its own (2.0 carries it with each series).
    public var metadataConfig = MetadataConfig()
    public init() {}

    public enum ProtobufMessage: String, Sendable {
        case v1 = "prometheus.WriteRequest"
        case v2 = "io.prometheus.write.v2.Request"
    }
}

/// `metadata_config`, with Prometheus' defaults.
public struct MetadataConfig: Sendable {
    public var send = true
    public var sendInterval: Duration = .seconds(60)
    public var maxSamplesPerSend = 2_000
    public init() {}
}

/// `queue_config`, with Prometheus' defaults.
public struct QueueConfig: Sendable {
    public var capacity = 10_000
    public var maxShards = 50
    public var minShards = 1
    public var maxSamplesPerSend = 2_000
    public var batchSendDeadline: Duration = .seconds(5)
    public var minBackoff: Duration = .milliseconds(30)
    public var maxBackoff: Duration = .seconds(5)
    /// Samples older than this are dropped (and counted) instead of sent; zero: no limit.
    public var sampleAgeLimit: Duration = .zero
    /// Retry a 429 like a 5xx. On by default, unlike Prometheus (where a 429 drops the batch):
    /// Outpost promises not to lose data to a receiver's rate limit. `sample_age_limit`, when set,
    /// bounds how long such samples are retried, and the WAL disk budget bounds the backlog.
    public var retryOnHTTP429 = true
    public init() {}
}

/// A configuration problem, located in its file.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
    public var description: String { "\(file):\(line): \(message)" }
}
