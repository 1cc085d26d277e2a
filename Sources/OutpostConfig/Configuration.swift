import OutpostModel

/// The whole configuration file, field by field as Prometheus' agent reads it.
public struct OutpostConfiguration: Sendable {
    public var global = GlobalConfig()
    public var scrapeConfigs: [ScrapeConfig] = []
    public var remoteWrite: [RemoteWriteConfig] = []
    /// The file the configuration came from, for messages.
    public var file: String = ""
    public init() {}
}

/// `global:`: defaults for every job, and the labels added to everything sent.
public struct GlobalConfig: Sendable {
    public var scrapeInterval: Duration = .seconds(60)
    public var scrapeTimeout: Duration = .seconds(10)
    /// Added to every series on its way out, unless the series has a label of the same name.
    public var externalLabels: Labels = .empty
    public init() {}
}

/// One `scrape_configs` entry: a job and how to scrape its targets.
public struct ScrapeConfig: Sendable {
    public var jobName: String = ""
    public var scrapeInterval: Duration = .seconds(60)
    public var scrapeTimeout: Duration = .seconds(10)
    public var metricsPath: String = "/metrics"
    public var scheme: String = "http"
    /// URL query parameters, each name with one or more values.
    public var params: [(name: String, values: [String])] = []
    public var honorLabels = false
    public var honorTimestamps = true
    public var staticConfigs: [StaticConfig] = []
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
    public var remoteTimeout: Duration = .seconds(30)
    public var queueConfig = QueueConfig()
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
