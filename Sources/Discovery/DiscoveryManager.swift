import Logging
import OutpostConfig
import OutpostModel
import Synchronization
import Telemetry
import Transport

/// A running discovery mechanism. `run` produces target groups until its task is cancelled,
/// handing each batch of changed groups to `send`; a group with no targets removes that source.
public protocol DiscoveryProvider: Sendable {
    func run(_ send: @escaping @Sendable ([TargetGroup]) -> Void) async
}

/// Runs the discovery providers of every scrape job and keeps their latest target groups.
///
/// Providers are keyed by their settings alone: jobs with identical discovery settings (many
/// monitors of one namespace, say) share one provider — one set of watches on the API server —
/// as Prometheus shares them. A reload keeps the providers whose settings did not change (their
/// targets stay, nothing is re-listed) and stops the rest. Changes reach the scrape
/// manager through `onChange`, at most once every `minimumInterval` (5 s, as Prometheus sends
/// discovery updates), the first one at once.
public final class DiscoveryManager: Sendable {
    private struct Running {
        /// The jobs these settings appear in; each gets the provider's groups.
        var jobs: Set<String>
        var task: Task<Void, Never>
        var groups: [String: TargetGroup] = [:]
        /// Source order as first seen, so targets keep a stable order.
        var order: [String] = []
    }

    private struct State {
        var running: [String: Running] = [:]
        var pending = false
        var notifier: Task<Void, Never>? = nil
        var lastNotified: ContinuousClock.Instant? = nil
        var stopped = false
    }

    private let state = Mutex(State())
    private let onChange: @Sendable () -> Void
    private let minimumInterval: Duration
    let context: DiscoveryContext

    public init(
        transport: HTTPTransport, registry: MetricsRegistry, status: StatusBoard, logger: Logger,
        minimumInterval: Duration = .seconds(5), onChange: @escaping @Sendable () -> Void
    ) {
        self.context = DiscoveryContext(transport: transport, registry: registry, status: status, logger: logger)
        self.minimumInterval = minimumInterval
        self.onChange = onChange
    }

    /// Starts the providers `config` names and not yet running; stops those it no longer names.
    /// Fails, changing nothing, when a provider cannot be built (HTTP settings that do not load).
    public func apply(_ config: OutpostConfiguration) throws(TransportError) {
        var jobsByKey: [String: (sd: ServiceDiscoveryConfig, jobs: Set<String>)] = [:]
        for job in config.scrapeConfigs {
            for sd in job.serviceDiscovery {
                jobsByKey[sd.key, default: (sd, [])].jobs.insert(job.jobName)
            }
        }
        let existing = state.withLock { Set($0.running.keys) }
        var wanted: [String: (jobs: Set<String>, provider: (any DiscoveryProvider)?)] = [:]
        for (key, w) in jobsByKey {
            let names = w.jobs.sorted().joined(separator: ", ")
            wanted[key] = (w.jobs, existing.contains(key) ? nil : try makeProvider(w.sd, job: names))
        }
        state.withLock { s in
            for (key, r) in s.running where wanted[key] == nil {
                r.task.cancel()
                s.running.removeValue(forKey: key)
                context.status.removeDiscovery(key)
            }
            for (key, w) in wanted {
                let jobs = w.jobs.sorted().joined(separator: ", ")
                if s.running[key] != nil {
                    s.running[key]?.jobs = w.jobs
                    context.status.updateDiscovery(key, DiscoveryStatus(job: jobs, mechanism: "", source: "")) { $0.job = jobs }
                    continue
                }
                guard let provider = w.provider else { continue }
                // The task holds the manager until it is cancelled (by a reload or at shutdown).
                let task = Task { await provider.run { groups in self.receive(key, groups) } }
                s.running[key] = Running(jobs: w.jobs, task: task)
            }
        }
    }

    /// The provider for `sd`; `job` (the jobs sharing it) names it in messages and on `/status`.
    private func makeProvider(_ sd: ServiceDiscoveryConfig, job: String) throws(TransportError) -> any DiscoveryProvider {
        let key = sd.key
        switch sd.mechanism {
        case .file(let c):
            return FileDiscovery(config: c, context: context, statusKey: key, job: job)
        case .http(let c):
            let settings: HTTPClientSettings
            do {
                settings = try context.transport.settings(for: c.http)
            } catch {
                throw TransportError(kind: error.kind, message: "scrape job \"\(job)\" http_sd_configs: \(error.message)")
            }
            return HTTPDiscovery(config: c, settings: settings, context: context, statusKey: key, job: job)
        case .kubernetes(let c):
            do {
                return try KubernetesDiscovery(config: c, context: context, statusKey: key, job: job)
            } catch {
                throw TransportError(kind: error.kind, message: "scrape job \"\(job)\" kubernetes_sd_configs: \(error.message)")
            }
        }
    }

    private func receive(_ key: String, _ groups: [TargetGroup]) {
        let notify: Duration? = state.withLock { s in
            // Taken out while updated, so its group table is changed in place rather than copied.
            guard !s.stopped, var r = s.running.removeValue(forKey: key) else { return nil }
            for g in groups {
                if g.targets.isEmpty {
                    if r.groups.removeValue(forKey: g.source) != nil { r.order.removeAll { $0 == g.source } }
                } else {
                    if r.groups[g.source] == nil { r.order.append(g.source) }
                    r.groups[g.source] = g
                }
            }
            s.running[key] = r
            guard !s.pending else { return nil }
            s.pending = true
            let now = ContinuousClock.now
            guard let last = s.lastNotified else { return .zero }
            return max(.zero, last + minimumInterval - now)
        }
        guard let delay = notify else { return }
        let task = Task {
            if delay > .zero { try? await Task.sleep(for: delay) }
            self.fire()
        }
        state.withLock { $0.notifier = task }
    }

    private func fire() {
        let go = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.pending = false
            s.lastNotified = ContinuousClock.now
            return true
        }
        if go { onChange() }
    }

    /// Every job's discovered groups, providers in key order and sources in the order first seen.
    public func groups() -> [String: [TargetGroup]] {
        state.withLock { s in
            var out: [String: [TargetGroup]] = [:]
            for key in s.running.keys.sorted() {
                guard let r = s.running[key] else { continue }
                let groups = r.order.compactMap { r.groups[$0] }
                for job in r.jobs { out[job, default: []] += groups }
            }
            return out
        }
    }

    /// Stops every provider and waits for them.
    public func shutdown() async {
        let tasks = state.withLock { s -> [Task<Void, Never>] in
            s.stopped = true
            s.notifier?.cancel()
            let tasks = s.running.values.map(\.task)
            s.running.removeAll()
            return tasks
        }
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
    }
}

/// A provider's line on `/status`: created when the provider starts, then updated after each
/// refresh or failure.
struct DiscoveryReporter: Sendable {
    let status: StatusBoard
    let key: String
    let initial: DiscoveryStatus

    init(status: StatusBoard, key: String, initial: DiscoveryStatus) {
        self.status = status
        self.key = key
        self.initial = initial
        status.updateDiscovery(key, initial) { _ in }
    }

    /// A refresh happened: the provider now holds `targets`; `error` replaces the last error
    /// unless nil.
    func refreshed(targets: Int, error: String? = nil) {
        status.updateDiscovery(key, initial) { d in
            d.targets = targets
            d.lastUpdate = Timestamp.nowMilliseconds()
            if let error { d.lastError = error }
        }
    }

    func failed(_ error: String) {
        status.updateDiscovery(key, initial) { $0.lastError = error }
    }
}

/// What every provider shares: the HTTP transport, the registry for its metrics, `/status`, the log.
struct DiscoveryContext: Sendable {
    let transport: HTTPTransport
    let registry: MetricsRegistry
    let status: StatusBoard
    let logger: Logger
}

