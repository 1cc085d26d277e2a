import Discovery
import Logging
import OutpostConfig
import OutpostModel
import ServiceLifecycle
import Synchronization
import Telemetry
import Transport
import WAL

/// Owns the scrape loops: one per target, started and stopped by diffing target keys whenever the
/// configuration or a discovery provider's targets change.
public final class ScrapeManager: Service {
    private struct Running {
        var loop: ScrapeLoop
        var task: Task<Void, Never>
    }

    private let wal: WriteAheadLog
    private let transport: HTTPTransport
    private let status: StatusBoard
    private let registry: MetricsRegistry
    private let metrics: ScrapeMetrics
    private let logger: Logger
    private let offsetSeed: UInt64
    private let running = Mutex<[String: Running]>([:])
    /// Loops of removed targets, still writing their end-of-run staleness markers: awaited at
    /// shutdown so those markers reach the WAL before it closes.
    private let retired = Mutex<[Task<Void, Never>]>([])
    private let discovered: Mutex<[String: GaugeMetric]> = Mutex([:])
    private let initial: OutpostConfiguration
    private let discovery: DiscoveryManager
    /// The configuration in force and each job's HTTP settings; held while targets are synced, so
    /// syncs apply in order.
    private let current = Mutex<(config: OutpostConfiguration, settings: [String: HTTPClientSettings])?>(nil)

    public init(
        config: OutpostConfiguration, wal: WriteAheadLog, transport: HTTPTransport, status: StatusBoard,
        registry: MetricsRegistry, logger: Logger
    ) {
        self.initial = config
        self.wal = wal
        self.transport = transport
        self.status = status
        self.registry = registry
        self.metrics = ScrapeMetrics(registry: registry)
        self.logger = logger
        // Prometheus seeds offsets with its external labels, so replicas spread alike.
        self.offsetSeed = FNV1a64.hash(config.global.externalLabels.description)
        let relay = ChangeRelay()
        self.discovery = DiscoveryManager(
            transport: transport, registry: registry, status: status, logger: logger, onChange: { relay.fire() })
        relay.set { [weak self] in self?.sync() }
    }

    /// What a configuration's discovery and target relabeling yield.
    public struct TargetSet: Sendable {
        /// Targets to scrape, in job order; those of a pool over its `target_limit` carry a forced error.
        public var active: [ScrapeTarget] = []
        /// Per job: discovered labels of dropped targets (as many as `keep_dropped_targets` allows)
        /// and how many were dropped in all.
        public var dropped: [String: (kept: [[(name: String, value: String)]], total: Int)] = [:]
        /// Targets relabeling made unusable, with the reason.
        public var invalid: [(job: String, labels: [(name: String, value: String)], reason: String)] = []
    }

    /// The targets a configuration yields from its static groups and, per job, `discovered` groups.
    public static func targets(for config: OutpostConfiguration, discovered: [String: [TargetGroup]] = [:]) -> TargetSet {
        var set = TargetSet()
        var seen: Set<String> = []
        for job in config.scrapeConfigs {
            var active: [ScrapeTarget] = []
            var dropped: [[(name: String, value: String)]] = []
            var droppedTotal = 0
            for group in StaticDiscovery.groups(for: job) + discovered[job.jobName, default: []] {
                for t in group.targets {
                    switch ScrapeTarget.make(job: job, group: group, target: t) {
                    case .active(let target):
                        if seen.insert(target.key).inserted { active.append(target) }
                    case .dropped(let labels):
                        droppedTotal += 1
                        if job.keepDroppedTargets == 0 || dropped.count < job.keepDroppedTargets { dropped.append(labels) }
                    case .invalid(let labels, let reason):
                        set.invalid.append((job.jobName, labels, reason))
                    }
                }
            }
            if job.targetLimit > 0 && active.count > job.targetLimit {
                let reason = "target_limit exceeded (number of targets: \(active.count), limit: \(job.targetLimit))"
                for i in active.indices {
                    active[i].forcedError = reason
                    active[i].key += "|limited"
                }
            }
            set.active += active
            set.dropped[job.jobName] = (dropped, droppedTotal)
        }
        return set
    }

    /// Takes `config` into use: its discovery providers start (unchanged ones keep running) and
    /// loops start for new targets and stop (with staleness markers) for targets that are gone.
    ///
    /// Fails, changing nothing, when a job's HTTP settings cannot be built (a TLS file that does
    /// not load): a reload then keeps the running configuration.
    public func apply(_ config: OutpostConfiguration) throws(TransportError) {
        var settings: [String: HTTPClientSettings] = [:]
        for job in config.scrapeConfigs {
            do {
                settings[job.jobName] = try transport.settings(for: job.http)
            } catch {
                throw TransportError(kind: error.kind, message: "scrape job \"\(job.jobName)\": \(error.message)")
            }
        }
        try discovery.apply(config)
        current.withLock { $0 = (config, settings) }
        sync()
    }

    /// Brings the running loops in line with the configuration and the discovered targets.
    func sync() {
        current.withLock { current in
            guard let (config, settings) = current else { return }
            let set = Self.targets(for: config, discovered: discovery.groups())
            start(set, config: config, settings: settings)
        }
    }

    private func start(_ set: TargetSet, config: OutpostConfiguration, settings: [String: HTTPClientSettings]) {
        let targets = set.active
        for bad in set.invalid {
            logger.error(
                "creating target failed", metadata: ["job": "\(bad.job)", "err": "\(bad.reason)",
                                                     "labels": "\(bad.labels.map { "\($0.name)=\($0.value)" })"])
        }
        var counts: [String: Int] = [:]
        for job in config.scrapeConfigs { counts[job.jobName] = 0 }
        for t in targets { counts[t.job, default: 0] += 1 }
        for (job, d) in set.dropped { counts[job, default: 0] += d.total }
        discovered.withLock { gauges in
            for (job, n) in counts {
                let g = gauges[job] ?? registry.makeGauge(
                    name: MetricName.sdDiscoveredTargets, labels: [("config", job), ("name", "scrape")])
                gauges[job] = g
                g.set(Double(n))
            }
        }
        status.setDroppedTargets(set.dropped.mapValues { $0.kept })
        let wanted = Dictionary(targets.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var added = 0
        var removed = 0
        running.withLock { running in
            for (key, r) in running where wanted[key] == nil {
                r.loop.markRemoved()
                r.task.cancel()
                retired.withLock { $0.append(r.task) }
                running.removeValue(forKey: key)
                status.removeTarget(key)
                removed += 1
            }
            for (key, target) in wanted where running[key] == nil {
                guard let jobSettings = settings[target.job] else { continue }
                let loop = ScrapeLoop(
                    target: target, wal: wal, transport: transport, settings: jobSettings, status: status, metrics: metrics,
                    registry: registry, offsetSeed: offsetSeed, logger: logger)
                status.addTarget(
                    TargetStatus(
                        key: key, job: target.job, scrapeURL: target.url, labels: target.labels.pairs,
                        discoveredLabels: target.discoveredLabels, interval: target.interval,
                        timeout: target.timeout))
                let task = Task { await loop.run() }
                running[key] = Running(loop: loop, task: task)
                added += 1
            }
        }
        if added > 0 || removed > 0 {
            logger.info(
                "scrape targets applied", metadata: ["targets": "\(targets.count)", "added": "\(added)", "removed": "\(removed)"])
        }
    }

    /// Scrapes until graceful shutdown, then stops every loop (no staleness markers: the series
    /// continue after a restart) and waits for them.
    public func run() async throws {
        try apply(initial)
        try? await gracefulShutdown()
        await discovery.shutdown()
        let tasks = running.withLock { running in
            let tasks = running.values.map(\.task)
            running.removeAll()
            return tasks
        }
        for t in tasks { t.cancel() }
        for t in tasks + retired.withLock({ $0 }) { await t.value }
        logger.info("scraping stopped")
    }
}

/// Lets the discovery manager, made during `init`, call back into the scrape manager once it exists.
private final class ChangeRelay: Sendable {
    private let action = Mutex<(@Sendable () -> Void)?>(nil)
    func set(_ f: @escaping @Sendable () -> Void) { action.withLock { $0 = f } }
    func fire() { action.withLock { $0 }?() }
}
