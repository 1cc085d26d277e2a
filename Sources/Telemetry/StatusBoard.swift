import Synchronization

/// Health of a target as Prometheus reports it.
public enum TargetHealth: String, Sendable {
    case up, down, unknown
}

/// What `/status` and `/api/v1/targets` show for one target.
public struct TargetStatus: Sendable {
    public var key: String
    public var job: String
    public var scrapeURL: String
    public var labels: [(name: String, value: String)]
    public var discoveredLabels: [(name: String, value: String)]
    public var health: TargetHealth = .unknown
    /// Milliseconds since the epoch of the last scrape start; 0 before the first.
    public var lastScrape: Int64 = 0
    public var lastScrapeDuration: Double = 0
    public var lastError: String = ""
    public var lastSamples: Int = 0
    public var interval: Duration
    public var timeout: Duration

    public init(
        key: String, job: String, scrapeURL: String, labels: [(name: String, value: String)],
        discoveredLabels: [(name: String, value: String)], interval: Duration, timeout: Duration
    ) {
        self.key = key
        self.job = job
        self.scrapeURL = scrapeURL
        self.labels = labels
        self.discoveredLabels = discoveredLabels
        self.interval = interval
        self.timeout = timeout
    }
}

/// What `/status` shows for one remote-write endpoint.
public struct EndpointStatus: Sendable {
    public var name: String
    public var url: String
    public var samplesSent: Int64 = 0
    public var samplesFailed: Int64 = 0
    public var samplesRetried: Int64 = 0
    /// Samples dropped on the way out (write relabeling, unknown series, too old, 413 on one sample).
    public var samplesDropped: Int64 = 0
    /// Shards sending now, and the count the throughput calls for.
    public var shards: Int = 1
    public var shardsDesired: Double = 0
    /// Samples read from the WAL but not yet acknowledged by the endpoint.
    public var pending: Int = 0
    /// Seconds between the newest appended sample and the newest sent one.
    public var lagSeconds: Double = 0
    public var lastError: String = ""
    /// Milliseconds since the epoch of the last successful send.
    public var lastSuccess: Int64 = 0
    /// The WAL position the endpoint has acknowledged, as `segment:offset`.
    public var cursor: String = ""
    public init(name: String, url: String) {
        self.name = name
        self.url = url
    }
}

/// What `/status` shows for the WAL.
public struct WALStatus: Sendable {
    public var directory: String = ""
    public var segments: Int = 0
    public var bytesOnDisk: Int64 = 0
    public var series: Int = 0
    public var headSegment: Int = 0
    /// The disk budget, 0 for none.
    public var maxDiskBytes: Int64 = 0
    public var lastError: String = ""
    public init() {}
}

/// What `/status` shows for one discovery provider of a job.
public struct DiscoveryStatus: Sendable {
    public var job: String
    /// `file_sd`, `http_sd` or `kubernetes_sd`, with the role.
    public var mechanism: String
    /// Files, URL or API server (credentials removed).
    public var source: String
    public var targets: Int = 0
    public var lastUpdate: Int64 = 0
    public var lastError: String = ""
    public init(job: String, mechanism: String, source: String) {
        self.job = job
        self.mechanism = mechanism
        self.source = source
    }
}

/// An immutable copy of everything the status page shows.
public struct StatusSnapshot: Sendable {
    public var targets: [TargetStatus]
    public var endpoints: [EndpointStatus]
    public var wal: WALStatus
    public var discovery: [DiscoveryStatus]
    /// Targets dropped by relabeling, by job (discovered labels only).
    public var droppedTargets: [(job: String, labels: [(name: String, value: String)])]
    public var startTime: Int64
    public var version: String
    public var configFile: String
}

/// Where the stages publish their state and the web layer reads it: each stage writes plain values,
/// `/status` takes a copy. A mutex, not an actor, because writers publish once per scrape or batch and
/// must not wait for a hop.
public final class StatusBoard: Sendable {
    private struct State {
        var targets: [String: TargetStatus] = [:]
        var endpoints: [String: EndpointStatus] = [:]
        var wal = WALStatus()
        var discovery: [String: DiscoveryStatus] = [:]
        var dropped: [String: [[(name: String, value: String)]]] = [:]
    }
    private let state = Mutex(State())
    public let startTime: Int64
    public let version: String
    public let configFile: String

    public init(version: String, configFile: String, startTime: Int64) {
        self.version = version
        self.configFile = configFile
        self.startTime = startTime
    }

    public func updateTarget(_ key: String, _ body: (inout TargetStatus) -> Void) {
        state.withLock { s in
            if var t = s.targets[key] {
                body(&t)
                s.targets[key] = t
            }
        }
    }

    public func addTarget(_ status: TargetStatus) {
        state.withLock { $0.targets[status.key] = status }
    }

    public func removeTarget(_ key: String) {
        _ = state.withLock { $0.targets.removeValue(forKey: key) }
    }

    public func updateEndpoint(_ name: String, url: String, _ body: (inout EndpointStatus) -> Void) {
        state.withLock { s in
            var e = s.endpoints[name] ?? EndpointStatus(name: name, url: url)
            body(&e)
            s.endpoints[name] = e
        }
    }

    /// Replaces the dropped targets of every job.
    public func setDroppedTargets(_ dropped: [String: [[(name: String, value: String)]]]) {
        state.withLock { $0.dropped = dropped }
    }

    /// Creates the provider's entry on first use.
    public func updateDiscovery(_ key: String, _ initial: @autoclosure () -> DiscoveryStatus, _ body: (inout DiscoveryStatus) -> Void) {
        state.withLock { s in
            var d = s.discovery[key] ?? initial()
            body(&d)
            s.discovery[key] = d
        }
    }

    public func removeDiscovery(_ key: String) {
        _ = state.withLock { $0.discovery.removeValue(forKey: key) }
    }

    public func updateWAL(_ body: (inout WALStatus) -> Void) {
        state.withLock { body(&$0.wal) }
    }

    public func snapshot() -> StatusSnapshot {
        state.withLock { s in
            StatusSnapshot(
                targets: s.targets.values.sorted { ($0.job, $0.scrapeURL) < ($1.job, $1.scrapeURL) },
                endpoints: s.endpoints.values.sorted { $0.name < $1.name },
                wal: s.wal,
                discovery: s.discovery.keys.sorted().compactMap { s.discovery[$0] },
                droppedTargets: s.dropped.keys.sorted().flatMap { job in s.dropped[job, default: []].map { (job, $0) } },
                startTime: startTime, version: version, configFile: configFile)
        }
    }
}
