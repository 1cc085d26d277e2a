import Exposition
import OutpostModel
import Relabel

/// Hands out series refs for label sets; the WAL in production.
public protocol SeriesResolver: Sendable {
    func seriesRef(for labels: Labels) -> SeriesRef
}

/// Why a scrape's body was rejected.
public struct ScrapeBodyError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case parse, sampleLimit, invalidSeries }
    public var kind: Kind = .invalidSeries
    public var message: String
    public var description: String { message }
}

/// What one scrape produced, for the synthetic series and `/status`.
public struct ScrapeReport: Sendable, Equatable {
    public var samplesScraped = 0
    public var samplesPostRelabeling = 0
    public var seriesAdded = 0
    public var duplicates = 0
    /// Samples whose own timestamp was not newer than the series' last one.
    public var outOfOrder = 0
    /// Staleness markers written for series that disappeared.
    public var staleMarkers = 0

    public init(
        samplesScraped: Int = 0, samplesPostRelabeling: Int = 0, seriesAdded: Int = 0, duplicates: Int = 0,
        staleMarkers: Int = 0
    ) {
        self.samplesScraped = samplesScraped
        self.samplesPostRelabeling = samplesPostRelabeling
        self.seriesAdded = seriesAdded
        self.duplicates = duplicates
        self.staleMarkers = staleMarkers
    }
}

/// The decisions of one target's scrape loop, without I/O: body → samples (through the series
/// cache), staleness for series that disappeared or for a failed scrape, and the synthetic series.
/// The loop shell fetches bytes and appends ``samples`` to the WAL.
public struct ScrapeLoopCore {
    public let target: ScrapeTarget
    private let resolver: any SeriesResolver
    private var cache = SeriesCache()
    private var iteration: UInt32 = 0
    /// Entries seen by the last successful scrape.
    private var previous: [Int32] = []
    private var current: [Int32] = []
    /// Explicit timestamps accepted by the scrape in progress, committed to the cache when it succeeds.
    private var pendingTimestamps: [(Int32, Int64)] = []
    /// Refs of the synthetic series, resolved once.
    private let reportRefs: [SeriesRef]

    /// How many series lines the cache currently remembers.
    public var cachedSeries: Int { cache.count }

    /// The samples to append for the last call.
    public private(set) var samples: [Sample] = []
    /// How many samples the last scrape produced: the next one reserves room for that many at once.
    private var expectedSamples = 0

    /// Metric families whose TYPE, HELP or UNIT the last successful scrape showed for the first
    /// time or changed: appended to the WAL with the samples.
    public private(set) var metadata: [MetricMetadata] = []
    /// Exemplars of the last successful scrape's samples (new ones only: an exemplar equal to its
    /// series' previous one is not repeated).
    public private(set) var exemplars: [Exemplar] = []
    /// By cache entry: a hash of the series' last exemplar.
    private var lastExemplar: [Int32: UInt64] = [:]
    /// Exemplar hashes of the scrape in progress, committed when it succeeds.
    private var pendingExemplars: [(Int32, UInt64)] = []
    /// Series whose start (`_created`) time the last successful scrape showed for the first time or
    /// changed (OpenMetrics bodies only): appended to the WAL with the samples.
    public private(set) var starts: [SeriesStart] = []
    /// OpenMetrics: the counter, summary and histogram lines of the current family since its last
    /// `_created` line — the points a `_created` line may belong to.
    private var pointLines: [(entry: Int32, name: Range<Int>, labels: Range<Int>, type: MetricType)] = []
    /// Start times found by the scrape in progress, committed when it succeeds.
    private var pendingStarts: [(Int32, Int64)] = []
    /// The parsers' metadata-line buffer, kept between scrapes.
    private var metadataLines: [MetadataLine] = []
    /// Hashes of the metadata lines already reported (a changed line hashes differently).
    private var knownMetadataLines: Set<UInt64> = []
    /// A digest of the last successful scrape's metadata lines: equal means nothing to look at.
    private var lastMetadataDigest: UInt64 = 0

    /// The names of the synthetic series, in the order their values are passed.
    public static let reportNames = [
        "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ]

    public init(target: ScrapeTarget, resolver: any SeriesResolver) {
        self.target = target
        self.resolver = resolver
        self.reportRefs = Self.reportNames.map { name in
            var b = LabelsBuilder(target.labels)
            b.set("__name__", name)
            return resolver.seriesRef(for: b.labels())
        }
    }

    /// Turns a successful response body into samples stamped `timestamp`, plus staleness markers for
    /// series the previous scrape had and this one lacks. On a parse error, a limit exceeded or an
    /// invalid series, nothing is kept from this body and every series of the previous scrape is
    /// marked stale, as Prometheus does.
    public mutating func ingest(
        body: UnsafeRawBufferPointer, format: ExpositionFormat = .prometheusText, timestamp: Int64
    ) -> Result<ScrapeReport, ScrapeBodyError> {
        // An empty body is an empty scrape in every format, as in Prometheus (no `# EOF` needed).
        switch body.isEmpty ? .prometheusText : format {
        case .openMetrics:
            var parser = OpenMetricsParser(body)
            return ingestReadingMetadata(&parser, body: body, timestamp: timestamp, readsStarts: true)
        case .prometheusText:
            var parser = TextParser(body)
            return ingestReadingMetadata(&parser, body: body, timestamp: timestamp)
        case .prometheusProto:
            iteration &+= 1
            let error = ScrapeBodyError(
                kind: .parse, message: "the Prometheus protobuf format is not supported; offer a text format in scrape_protocols")
            return .failure(fail(error, timestamp: timestamp))
        }
    }

    private mutating func ingestReadingMetadata<P: ExpositionParser>(
        _ parser: inout P, body: UnsafeRawBufferPointer, timestamp: Int64, readsStarts: Bool = false
    ) -> Result<ScrapeReport, ScrapeBodyError> {
        metadataLines.removeAll(keepingCapacity: true)
        swap(&parser.metadata, &metadataLines)
        let result = ingest(&parser, body: body, timestamp: timestamp, readsStarts: readsStarts)
        swap(&parser.metadata, &metadataLines)
        metadata.removeAll(keepingCapacity: true)
        if case .success = result { noteMetadata(body) }
        return result
    }

    /// Finds the families whose metadata lines are new or changed and builds their metadata.
    /// Steady state (the same lines as last time): one hash per line and one comparison, nothing
    /// looked up or built.
    private mutating func noteMetadata(_ body: UnsafeRawBufferPointer) {
        func lineHash(_ line: MetadataLine) -> UInt64 {
            var h = TableHash.hash(UnsafeRawBufferPointer(rebasing: body[line.name]))
            h = h &* 31 &+ TableHash.hash(UnsafeRawBufferPointer(rebasing: body[line.text]))
            return h &* 31 &+ UInt64(line.kind.rawValue) &* 7 &+ UInt64(line.type.rawValue)
        }
        var digest: UInt64 = 0xcbf2_9ce4_8422_2325
        for line in metadataLines { digest = (digest ^ lineHash(line)) &* 0x100_0000_01b3 }
        if digest == lastMetadataDigest { return }
        lastMetadataDigest = digest
        var changed: Set<String> = []
        for line in metadataLines where knownMetadataLines.insert(lineHash(line)).inserted {
            changed.insert(line.familyName(in: body))
        }
        guard !changed.isEmpty else { return }
        if knownMetadataLines.count > 100_000 { knownMetadataLines.removeAll() }
        var byFamily: [String: MetricMetadata] = [:]
        var order: [String] = []
        for line in metadataLines {
            let name = line.familyName(in: body)
            guard changed.contains(name) else { continue }
            var m = byFamily[name] ?? MetricMetadata(family: name)
            if byFamily[name] == nil { order.append(name) }
            switch line.kind {
            case .type: m.type = line.type
            case .help: m.help = line.text(in: body)
            case .unit: m.unit = line.text(in: body)
            }
            byFamily[name] = m
        }
        for name in order { if let m = byFamily[name] { metadata.append(m) } }
    }

    private mutating func ingest<P: ExpositionParser>(
        _ parser: inout P, body: UnsafeRawBufferPointer, timestamp: Int64, readsStarts: Bool
    ) -> Result<ScrapeReport, ScrapeBodyError> {
        iteration &+= 1
        samples.removeAll(keepingCapacity: true)
        samples.reserveCapacity(expectedSamples)
        exemplars.removeAll(keepingCapacity: true)
        pendingExemplars.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        pendingStarts.removeAll(keepingCapacity: true)
        pointLines.removeAll(keepingCapacity: true)
        var metadataLinesSeen = 0
        current.removeAll(keepingCapacity: true)
        current.reserveCapacity(previous.count)
        pendingTimestamps.removeAll(keepingCapacity: true)
        var report = ScrapeReport()
        var line = ExpositionSample()
        let options = target.options
        do {
            while try parser.next(&line) {
                report.samplesScraped += 1
                var pointLine = false
                if readsStarts {
                    // A metadata line opens a new family: the points before it are complete.
                    if parser.metadata.count != metadataLinesSeen {
                        metadataLinesSeen = parser.metadata.count
                        pointLines.removeAll(keepingCapacity: true)
                    }
                    switch line.type {
                    case .counter, .summary, .histogram:
                        if Self.isCreatedLine(line, body) {
                            noteCreated(line, body: body)
                        } else {
                            pointLine = true
                        }
                    default: break
                    }
                }
                let key = SeriesCache.key(UnsafeRawBufferPointer(rebasing: body[line.series]))
                let explicit = options.honorTimestamps ? line.timestamp : nil
                let entry: Int
                /// Whether this line is the series' first in this scrape (a repeat with its own
                /// timestamp is appended again, but tracked for staleness once).
                var first = true
                if let e = cache.find(key) {
                    first = cache.entries[e].lastSeen != iteration
                    // A series repeated without its own timestamp is a duplicate: the first one counts.
                    if !first && explicit == nil {
                        report.duplicates += 1
                        continue
                    }
                    cache.markSeen(e, iteration)
                    entry = e
                } else {
                    let ref: SeriesRef
                    if let labels = try seriesLabels(body: body, line: line) {
                        ref = resolver.seriesRef(for: labels)
                        report.seriesAdded += 1
                    } else {
                        ref = SeriesCache.dropped
                    }
                    guard let e = cache.insert(key, ref: ref, seen: iteration) else {
                        throw ScrapeBodyError(message: "series not stored: the WAL's series table is full (ref \(ref.rawValue))")
                    }
                    entry = e
                }
                let ref = cache.entries[entry].ref
                if ref == SeriesCache.dropped { continue }
                if let explicit {
                    // As the Prometheus agent does: a sample not newer than the last one appended
                    // for its series, in an earlier scrape, is out of order and dropped.
                    if explicit <= cache.lastTimestamp(entry) {
                        report.outOfOrder += 1
                        continue
                    }
                    pendingTimestamps.append((Int32(entry), explicit))
                }
                // Series with their own timestamps are not tracked for staleness unless asked to be.
                if first && (explicit == nil || options.trackTimestampsStaleness) { current.append(Int32(entry)) }
                samples.append(Sample(ref: ref, timestamp: explicit ?? timestamp, value: line.value))
                if pointLine { pointLines.append((Int32(entry), line.name, line.labels, line.type)) }
                if let e = line.exemplar { noteExemplar(e, ref: ref, entry: entry, timestamp: timestamp, body: body) }
            }
        } catch let error as ExpositionError {
            return .failure(fail(ScrapeBodyError(kind: .parse, message: error.description), timestamp: timestamp))
        } catch let error as ScrapeBodyError {
            return .failure(fail(error, timestamp: timestamp))
        } catch {
            return .failure(fail(ScrapeBodyError(message: "\(error)"), timestamp: timestamp))
        }
        report.samplesPostRelabeling = samples.count
        if options.sampleLimit > 0 && samples.count > options.sampleLimit {
            return .failure(fail(ScrapeBodyError(kind: .sampleLimit, message: "sample limit exceeded"), timestamp: timestamp))
        }
        for (e, ts) in pendingTimestamps where ts > cache.lastTimestamp(Int(e)) {
            cache.setLastTimestamp(Int(e), ts)
        }
        for (e, h) in pendingExemplars { lastExemplar[e] = h }
        for (e, start) in pendingStarts where cache.startTimestamp(Int(e)) != start {
            cache.setStartTimestamp(Int(e), start)
            starts.append(SeriesStart(ref: cache.entries[Int(e)].ref, start: start))
        }
        for e in previous where cache.entries[Int(e)].lastSeen != iteration {
            samples.append(Sample(ref: cache.entries[Int(e)].ref, timestamp: timestamp, value: StaleNaN.value))
            report.staleMarkers += 1
        }
        swap(&previous, &current)
        current = []  // the list before last is not needed until the next scrape: not held meanwhile
        // Forget series unseen for a while so a churning target cannot grow the cache without bound.
        if cache.count > 1024 && cache.count > 2 * max(previous.count, report.samplesScraped) {
            cache.compact(keepingSeenSince: iteration)
            lastExemplar.removeAll()  // keyed by entry, which compaction renumbers
            previous = cache.entries.indices.filter { cache.entries[$0].ref != SeriesCache.dropped }.map { Int32($0) }
        }
        cache.trim()
        return .success(report)
    }

    /// Keeps a sample's exemplar unless it repeats the series' last one. As in Prometheus, one
    /// without a timestamp takes the scrape's, and one whose labels exceed 128 characters in all
    /// (the OpenMetrics limit) is left out.
    private mutating func noteExemplar(
        _ e: ExpositionExemplar, ref: SeriesRef, entry: Int, timestamp: Int64, body: UnsafeRawBufferPointer
    ) {
        var b = LabelsBuilder()
        var length = 0
        LabelPairs.forEach(in: body, range: e.labels) { name, value in
            length += String(decoding: name, as: UTF8.self).count + String(decoding: value, as: UTF8.self).count
            b.set(Array(name), Array(value))
        }
        guard length <= 128 else { return }
        let exemplar = Exemplar(ref: ref, timestamp: e.timestamp ?? timestamp, value: e.value, labels: b.labels())
        var h = TableHash.hash(UnsafeRawBufferPointer(rebasing: body[e.labels]))
        h = h &* 31 &+ UInt64(bitPattern: exemplar.timestamp)
        h = h &* 31 &+ exemplar.value.bitPattern
        if lastExemplar[Int32(entry)] == h { return }
        pendingExemplars.append((Int32(entry), h))
        exemplars.append(exemplar)
    }

    /// Whether `line` is the `_created` line of a counter, summary or histogram point.
    private static func isCreatedLine(_ line: ExpositionSample, _ body: UnsafeRawBufferPointer) -> Bool {
        line.name.count > 8
            && UnsafeRawBufferPointer(rebasing: body[(line.name.upperBound - 8)..<line.name.upperBound]).elementsEqual(
                "_created".utf8)
    }

    /// A `_created` line gives its point's lines (read just before it, same family stem, same
    /// labels but `le` or `quantile`) their start time, in milliseconds truncated as Prometheus
    /// converts OpenMetrics seconds. Compares bytes of the body only: nothing is allocated.
    private mutating func noteCreated(_ line: ExpositionSample, body: UnsafeRawBufferPointer) {
        defer { pointLines.removeAll(keepingCapacity: true) }
        let ms = line.value * 1000
        guard ms.isFinite, ms > -9.2e18, ms < 9.2e18, ms != 0 else { return }
        let stem = line.name.lowerBound..<(line.name.upperBound - 8)
        for p in pointLines
        where Self.isPart(p.name, of: stem, body) && Self.samePoint(p.labels, p.type, line.labels, body) {
            pendingStarts.append((p.entry, Int64(ms)))
        }
    }

    private static let pointSuffixes: [[UInt8]] = ["", "_total", "_bucket", "_count", "_sum"].map { Array($0.utf8) }

    /// Whether `name` is `stem` followed by one of the suffixes a point's lines carry.
    private static func isPart(_ name: Range<Int>, of stem: Range<Int>, _ body: UnsafeRawBufferPointer) -> Bool {
        guard name.count >= stem.count,
            UnsafeRawBufferPointer(rebasing: body[name.lowerBound..<(name.lowerBound + stem.count)]).elementsEqual(
                UnsafeRawBufferPointer(rebasing: body[stem]))
        else { return false }
        let rest = UnsafeRawBufferPointer(rebasing: body[(name.lowerBound + stem.count)..<name.upperBound])
        return pointSuffixes.contains { rest.elementsEqual($0) }
    }

    /// Whether the label set `a` (of a line of `type`) equals `b` once a histogram's `le` or a
    /// summary's `quantile` is left out of `a`.
    private static func samePoint(
        _ a: Range<Int>, _ type: MetricType, _ b: Range<Int>, _ body: UnsafeRawBufferPointer
    ) -> Bool {
        func bytes(_ r: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: body[r]) }
        let skipped: String.UTF8View? =
            switch type {
            case .histogram: "le".utf8
            case .summary: "quantile".utf8
            default: nil
            }
        var pa = RawLabelPairs(body, a)
        var pb = RawLabelPairs(body, b)
        while true {
            var x = pa.next()
            if let name = x?.name, let skipped, bytes(name).elementsEqual(skipped) { x = pa.next() }
            let y = pb.next()
            guard let x, let y else { return x == nil && y == nil }
            guard bytes(x.name).elementsEqual(bytes(y.name)), bytes(x.value).elementsEqual(bytes(y.value)) else {
                return false
            }
        }
    }

    /// Lets go of the samples once they are appended. A loop idles most of its interval, and a
    /// thousand loops each holding a scrape's worth of samples cost more memory than one buffer
    /// taken per scrape: freed, it serves the next loop's scrape.
    public mutating func releaseSamples() {
        expectedSamples = samples.count
        samples = []
    }

    /// Forgets which metadata and start times were reported, so the next scrape reports them
    /// again: for a WAL append that failed and lost them.
    public mutating func reportAgain() {
        lastMetadataDigest = 0
        knownMetadataLines.removeAll()
        cache.forgetStartTimestamps()
    }

    /// A scrape that failed before a body arrived (connection refused, timeout, HTTP status):
    /// every series of the previous scrape gets a staleness marker.
    public mutating func failed(timestamp: Int64) {
        iteration &+= 1
        samples.removeAll(keepingCapacity: true)
        exemplars.removeAll(keepingCapacity: true)
        metadata.removeAll(keepingCapacity: true)
        _ = fail(ScrapeBodyError(message: ""), timestamp: timestamp)
    }

    private mutating func fail(_ error: ScrapeBodyError, timestamp: Int64) -> ScrapeBodyError {
        samples.removeAll(keepingCapacity: true)
        exemplars.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        for e in previous {
            samples.append(Sample(ref: cache.entries[Int(e)].ref, timestamp: timestamp, value: StaleNaN.value))
        }
        previous.removeAll(keepingCapacity: true)
        return error
    }

    /// Appends the five synthetic series to ``samples``.
    public mutating func appendReport(up: Bool, duration: Double, report: ScrapeReport, timestamp: Int64) {
        let values = [
            up ? 1 : 0, duration, Double(report.samplesScraped), Double(report.samplesPostRelabeling),
            Double(report.seriesAdded),
        ]
        for (ref, v) in zip(reportRefs, values) { samples.append(Sample(ref: ref, timestamp: timestamp, value: v)) }
    }

    /// Staleness markers for every series of the last scrape and the synthetic series: the target
    /// went away.
    public mutating func endOfRun(timestamp: Int64) {
        samples.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        for e in previous {
            samples.append(Sample(ref: cache.entries[Int(e)].ref, timestamp: timestamp, value: StaleNaN.value))
        }
        for ref in reportRefs { samples.append(Sample(ref: ref, timestamp: timestamp, value: StaleNaN.value)) }
        previous.removeAll()
    }

    /// The labels of a series line: scraped labels merged with the target's (following
    /// honor_labels), then `metric_relabel_configs`; nil when relabeling dropped the series. Throws
    /// for what fails the whole scrape in Prometheus: duplicate or invalid label names, a missing
    /// metric name, an exceeded label limit.
    private func seriesLabels(body: UnsafeRawBufferPointer, line: ExpositionSample) throws -> Labels? {
        var scraped: [([UInt8], [UInt8])] = [(Array("__name__".utf8), LabelPairs.metricName(in: body, line))]
        var duplicate: [UInt8]? = nil
        // Prometheus spells the bucket and quantile bounds of classic histograms and summaries the
        // OpenMetrics way (`le="1.0"`), whatever the target wrote.
        let normalized: StaticString? =
            switch line.type {
            case .histogram: "le"
            case .summary: "quantile"
            default: nil
            }
        LabelPairs.forEach(in: body, range: line.labels) { name, value in
            if duplicate == nil && scraped.contains(where: { $0.0 == name }) { duplicate = name }
            if let normalized, name.elementsEqual(UnsafeRawBufferPointer(start: normalized.utf8Start, count: normalized.utf8CodeUnitCount)),
                let canonical = OpenMetricsFloat.normalize(value)
            {
                scraped.append((name, canonical))
            } else {
                scraped.append((name, value))
            }
        }
        if let duplicate {
            throw ScrapeBodyError(
                message: "label name \"\(String(decoding: duplicate, as: UTF8.self))\" is not unique: invalid sample")
        }
        var b = LabelsBuilder()
        for (n, v) in scraped { b.set(n, v) }
        let options = target.options
        target.labels.forEach { rawName, rawValue in
            let name = Array(rawName)
            let value = Array(rawValue)
            if options.honorLabels {
                if !b.has(name) { b.set(name, value) }
                return
            }
            if let existing = b.get(name) {
                var exported = Array("exported_".utf8) + name
                while b.has(exported) { exported = Array("exported_".utf8) + exported }
                b.set(exported, existing)
            }
            b.set(name, value)
        }
        guard Relabeler.process(&b, options.metricRelabel) else { return nil }
        let labels = b.labels()
        try Self.validate(labels, options)
        return labels
    }

    /// Prometheus' checks on a new series: a metric name, names valid under the job's
    /// `metric_name_validation_scheme`, UTF-8 values, and the label limits.
    static func validate(_ labels: Labels, _ options: ScrapeOptions) throws {
        let metric = labels["__name__"] ?? ""
        guard !metric.isEmpty else { throw ScrapeBodyError(message: "missing metric name (__name__ label)") }
        var count = 0
        var problem: String? = nil
        let legacy = options.nameValidation == .legacy
        labels.forEach { name, value in
            count += 1
            guard problem == nil else { return }
            let isName = name.elementsEqual("__name__".utf8)
            let validName =
                if isName {
                    legacy ? isValidMetricName(value) : isValidUTF8(value)
                } else {
                    legacy ? isLegacyLabelName(Array(name)) : (!name.isEmpty && isValidUTF8(name))
                }
            if !validName || !isValidUTF8(value) {
                problem = "invalid metric name or label names: \(labels)"
            } else if options.labelNameLengthLimit > 0 && name.count > options.labelNameLengthLimit {
                problem = "label_name_length_limit exceeded (metric: \(metric.prefix(50)), label name: "
                    + "\(String(decoding: name, as: UTF8.self).prefix(50)), length: \(name.count), limit: \(options.labelNameLengthLimit))"
            } else if options.labelValueLengthLimit > 0 && value.count > options.labelValueLengthLimit {
                problem = "label_value_length_limit exceeded (metric: \(metric.prefix(50)), label name: "
                    + "\(String(decoding: name, as: UTF8.self).prefix(50)), value: \"\(String(decoding: value, as: UTF8.self).prefix(50))\", "
                    + "length: \(value.count), limit: \(options.labelValueLengthLimit))"
            }
        }
        if let problem { throw ScrapeBodyError(message: problem) }
        if options.labelLimit > 0 && count > options.labelLimit {
            throw ScrapeBodyError(
                message: "label_limit exceeded (metric: \(metric.prefix(50)), number of labels: \(count), limit: \(options.labelLimit))")
        }
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
func isValidMetricName(_ name: UnsafeRawBufferPointer) -> Bool {
    guard let first = name.first else { return false }
    func ok(_ b: UInt8, _ digits: Bool) -> Bool {
        (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || b == 95 || b == 58 || (digits && b >= 48 && b <= 57)
    }
    return ok(first, false) && name.allSatisfy { ok($0, true) }
}
