import Exposition
import Logging
import OutpostConfig
import OutpostModel
import Synchronization
import Telemetry
import Transport
import WAL

extension WriteAheadLog: SeriesResolver {}

/// Counters shared by every loop, made once from the registry.
struct ScrapeMetrics: Sendable {
    let targetsUp: GaugeMetric
    let targetsDown: GaugeMetric
    let targetsUnknown: GaugeMetric
    let duplicates: CounterMetric
    let outOfOrder: CounterMetric

    init(registry: MetricsRegistry) {
        targetsUp = registry.makeGauge(name: MetricName.targets, labels: [("health", "up")])
        targetsDown = registry.makeGauge(name: MetricName.targets, labels: [("health", "down")])
        targetsUnknown = registry.makeGauge(name: MetricName.targets, labels: [("health", "unknown")])
        duplicates = registry.makeCounter(name: MetricName.scrapeDuplicates)
        outOfOrder = registry.makeCounter(name: MetricName.scrapeOutOfOrder)
    }

    func gauge(_ h: TargetHealth) -> GaugeMetric {
        switch h {
        case .up: targetsUp
        case .down: targetsDown
        case .unknown: targetsUnknown
        }
    }
}

/// The I/O shell around ``ScrapeLoopCore``: waits for the target's slot in each interval, fetches,
/// hands the bytes to the core, appends the result to the WAL and publishes status.
final class ScrapeLoop: Sendable {
    let target: ScrapeTarget
    private let wal: WriteAheadLog
    private let transport: HTTPTransport
    private let settings: HTTPClientSettings
    private let status: StatusBoard
    private let metrics: ScrapeMetrics
    private let logger: Logger
    private let offsetSeed: UInt64
    private let scrapes: CounterMetric
    private let failures: CounterMetric
    private let limitExceeded: CounterMetric
    private let bodyLimitExceeded: CounterMetric
    /// Set when the target was removed (not at shutdown): the loop then writes end-of-run staleness.
    private let markStaleOnStop = Atomic<Bool>(false)

    init(
        target: ScrapeTarget, wal: WriteAheadLog, transport: HTTPTransport, settings: HTTPClientSettings,
        status: StatusBoard, metrics: ScrapeMetrics, registry: MetricsRegistry, offsetSeed: UInt64, logger: Logger
    ) {
        self.target = target
        self.wal = wal
        self.transport = transport
        self.settings = settings
        self.status = status
        self.metrics = metrics
        self.offsetSeed = offsetSeed
        self.logger = logger
        self.limitExceeded = registry.makeCounter(name: MetricName.scrapesExceededSampleLimit)
        self.bodyLimitExceeded = registry.makeCounter(name: MetricName.scrapesExceededBodySizeLimit)
        self.scrapes = registry.makeCounter(name: MetricName.targetScrapesTotal, labels: [("job", target.job)])
        self.failures = registry.makeCounter(name: MetricName.targetScrapeFailures, labels: [("job", target.job)])
    }

    /// Asks the loop to write staleness markers for all its series when it stops.
    func markRemoved() { markStaleOnStop.store(true, ordering: .relaxed) }

    /// Runs until the task is cancelled.
    func run() async {
        var core = ScrapeLoopCore(target: target, resolver: wal)
        var health = TargetHealth.unknown
        metrics.gauge(health).increment()
        let clock = ContinuousClock()
        var next = clock.now + target.offset(nowNanoseconds: Timestamp.nowNanoseconds(), seed: offsetSeed)
        let options = target.options
        let headers: [(String, String)] = [
            ("Accept", acceptHeader(options.scrapeProtocols, escaping: options.nameEscaping)),
            ("Accept-Encoding", options.enableCompression ? "gzip" : "identity"),
            ("User-Agent", BuildInfo.userAgent),
            ("X-Prometheus-Scrape-Timeout-Seconds", formatSeconds(target.timeout.seconds)),
        ]
        while !Task.isCancelled {
            do {
                try await LoopTimer.sleep(until: next)
            } catch {
                break
            }
            let startedAt = clock.now
            let timestamp = Timestamp.nowMilliseconds()
            let (report, error, kind) = await scrapeOnce(core: &core, headers: headers, timestamp: timestamp)
            if Task.isCancelled && error != nil { break }  // shutdown interrupted the request: not a failure
            let duration = (clock.now - startedAt).seconds
            core.appendReport(up: error == nil, duration: duration, report: report, timestamp: timestamp)
            var appendError: String? = nil
            do {
                try wal.append(core.samples, metadata: core.metadata, exemplars: core.exemplars, starts: core.starts)
            } catch {
                core.reportAgain()
                appendError = "WAL append failed: \(error)"
                logger.error("WAL append failed, samples of this scrape lost", metadata: ["error": "\(error)"])
            }
            core.releaseSamples()
            scrapes.increment()
            if error != nil { failures.increment() }
            if kind == .sampleLimit { limitExceeded.increment() }
            if report.duplicates > 0 { metrics.duplicates.increment(by: Int64(report.duplicates)) }
            if report.outOfOrder > 0 { metrics.outOfOrder.increment(by: Int64(report.outOfOrder)) }
            let newHealth: TargetHealth = error == nil ? .up : .down
            if newHealth != health {
                metrics.gauge(health).decrement()
                metrics.gauge(newHealth).increment()
                health = newHealth
            }
            let message = error ?? appendError ?? ""
            status.updateTarget(target.key) { s in
                s.health = newHealth
                s.lastScrape = timestamp
                s.lastScrapeDuration = duration
                s.lastError = message
                s.lastSamples = report.samplesScraped
            }
            // Next slot: keep the phase; skip slots a slow scrape overran.
            next = next + target.interval
            let now = clock.now
            while next < now { next = next + target.interval }
        }
        metrics.gauge(health).decrement()
        if markStaleOnStop.load(ordering: .relaxed) {
            core.endOfRun(timestamp: Timestamp.nowMilliseconds())
            try? wal.append(core.samples)
        }
    }

    private func scrapeOnce(
        core: inout ScrapeLoopCore, headers: [(String, String)], timestamp: Int64
    ) async -> (ScrapeReport, String?, ScrapeBodyError.Kind?) {
        if let forced = target.forcedError {
            core.failed(timestamp: timestamp)
            return (ScrapeReport(), forced, nil)
        }
        let result: HTTPResult
        do {
            result = try await transport.get(
                url: target.url, headers: headers, timeout: target.timeout, bodyLimit: target.options.bodySizeLimit,
                settings: settings)
        } catch {
            core.failed(timestamp: timestamp)
            if error.kind == .tooLarge { bodyLimitExceeded.increment() }
            return (ScrapeReport(), error.description, nil)
        }
        guard result.status == 200 else {
            core.failed(timestamp: timestamp)
            return (ScrapeReport(), "server returned HTTP status \(result.status) \(reasonPhrase(result.status))", nil)
        }
        // The parser follows the response's Content-Type; without a usable one, the job's fallback
        // (the text format unless configured otherwise, as Prometheus 2 did).
        let format: ExpositionFormat
        switch ContentType.format(of: result.header("Content-Type")) {
        case .success(let f): format = f
        case .failure(let problem):
            let fallback = target.options.fallbackProtocol ?? .prometheusText0_0_4
            format = fallback.format
            logger.debug(
                "\(problem), using fallback_scrape_protocol \"\(fallback.rawValue)\"", metadata: ["target": "\(target.url)"])
        }
        let outcome = result.body.withUnsafeBytes { core.ingest(body: $0, format: format, timestamp: timestamp) }
        switch outcome {
        case .success(let report): return (report, nil, nil)
        case .failure(let error): return (ScrapeReport(), error.description, error.kind)
        }
    }
}

/// The `Accept` header Prometheus sends for `protocols`: weights from 0.6 down, `escaping=` on the
/// formats that can carry UTF-8 names, anything else last.
func acceptHeader(_ protocols: [ScrapeProtocol], escaping: String) -> String {
    var weight = ScrapeProtocol.allCases.count + 1
    var parts: [String] = []
    for p in protocols {
        var value = p.mediaType
        if p.takesEscaping { value += ";escaping=" + escaping }
        parts.append(value + ";q=0.\(weight)")
        weight -= 1
    }
    parts.append("*/*;q=0.\(weight)")
    return parts.joined(separator: ",")
}

extension ScrapeProtocol {
    var format: ExpositionFormat {
        switch self {
        case .prometheusProto: .prometheusProto
        case .openMetricsText0_0_1, .openMetricsText1_0_0: .openMetrics
        case .prometheusText0_0_4, .prometheusText1_0_0: .prometheusText
        }
    }
}

func formatSeconds(_ s: Double) -> String {
    if s == s.rounded() { return String(Int64(s)) }
    return String(s)
}

func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 500: "Internal Server Error"
    case 502: "Bad Gateway"
    case 503: "Service Unavailable"
    case 504: "Gateway Timeout"
    default: ""
    }
}
