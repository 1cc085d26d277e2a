import Discovery
import OutpostConfig
import OutpostModel
import Relabel
import Scrape
import Synchronization
import Testing

/// Assigns refs in order of first sight and remembers each ref's labels.
final class RecordingResolver: SeriesResolver {
    let state = Mutex<[Labels]>([])
    func seriesRef(for labels: Labels) -> SeriesRef {
        state.withLock { all in
            if let i = all.firstIndex(of: labels) { return SeriesRef(UInt64(i + 1)) }
            all.append(labels)
            return SeriesRef(UInt64(all.count))
        }
    }
    func labels(_ ref: SeriesRef) -> Labels { state.withLock { $0[Int(ref.rawValue) - 1] } }
    var count: Int { state.withLock { $0.count } }
}

func makeTarget(
    honorLabels: Bool = false, honorTimestamps: Bool = true, labels: [(String, String)] = [],
    configure: (inout ScrapeConfig) -> Void = { _ in }
) -> ScrapeTarget {
    var job = ScrapeConfig()
    job.jobName = "node"
    job.honorLabels = honorLabels
    job.honorTimestamps = honorTimestamps
    configure(&job)
    let group = TargetGroup(source: "0", targets: [[("__address__", "host:9100")]], labels: labels)
    return ScrapeTarget.make(job: job, group: group, target: group.targets[0]).target!
}

extension ScrapeLoopCore {
    mutating func ingest(_ text: String, at ts: Int64) -> Result<ScrapeReport, ScrapeBodyError> {
        Array(text.utf8).withUnsafeBytes { ingest(body: $0, timestamp: ts) }
    }
}

@Suite struct ScrapeLoopCoreTests {
    @Test func samplesGetTargetLabelsAndScrapeTimestamp() throws {
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        let report = try core.ingest("a 1\nb{x=\"y\"} 2 1234\n", at: 5_000).get()
        #expect(report == ScrapeReport(samplesScraped: 2, samplesPostRelabeling: 2, seriesAdded: 2))
        #expect(core.samples.map(\.value) == [1, 2])
        #expect(core.samples.map(\.timestamp) == [5_000, 1_234])
        #expect(resolver.labels(core.samples[0].ref) == Labels([("__name__", "a"), ("instance", "host:9100"), ("job", "node")]))
        #expect(resolver.labels(core.samples[1].ref)["x"] == "y")
    }

    @Test func secondScrapeHitsTheCacheAndAddsNoSeries() throws {
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        _ = try core.ingest("a 1\nb 2\n", at: 1).get()
        let seriesAfterFirst = resolver.count
        let report = try core.ingest("a 3\nb 4\n", at: 2).get()
        #expect(report.seriesAdded == 0)
        #expect(resolver.count == seriesAfterFirst)
        #expect(core.samples.map(\.value) == [3, 4])
    }

    /// The loop lets go of the samples once appended; the next scrape takes a buffer sized by the
    /// last one and loses nothing, staleness included.
    @Test func releasedSamplesComeBackSizedByTheLastScrape() throws {
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        let body = (0..<300).map { "m{i=\"\($0)\"} \($0)" }.joined(separator: "\n") + "\n"
        _ = try core.ingest(body, at: 1_000).get()
        core.appendReport(up: true, duration: 0.1, report: ScrapeReport(), timestamp: 1_000)
        let refs = core.samples.prefix(300).map(\.ref)
        core.releaseSamples()
        #expect(core.samples.isEmpty)
        let report = try core.ingest("m{i=\"0\"} 7\n", at: 2_000).get()
        #expect(report.staleMarkers == 299)
        #expect(core.samples.capacity >= 305)
        #expect(core.samples.first?.ref == refs[0])
        #expect(core.samples.first?.value == 7)
        #expect(Array(core.samples.dropFirst().map(\.ref)) == Array(refs.dropFirst()))
    }

    @Test func disappearedSeriesGetStalenessMarkers() throws {
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        _ = try core.ingest("a 1\nb 2\n", at: 1_000).get()
        let bRef = core.samples[1].ref
        let report = try core.ingest("a 3\n", at: 2_000).get()
        #expect(report.staleMarkers == 1)
        #expect(core.samples.count == 2)
        #expect(core.samples[1].ref == bRef)
        #expect(core.samples[1].timestamp == 2_000)
        #expect(StaleNaN.isStale(core.samples[1].value))
        // Gone means gone: the next scrape does not mark it again.
        _ = try core.ingest("a 4\n", at: 3_000).get()
        #expect(core.samples.count == 1)
    }

    @Test func parseErrorAppendsNothingButStalenessForThePreviousScrape() throws {
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        _ = try core.ingest("a 1\nb 2\n", at: 1_000).get()
        let result = core.ingest("a 1\nb oops\n", at: 2_000)
        guard case .failure(let error) = result else {
            Issue.record("expected failure")
            return
        }
        #expect(error.message.contains("line 2"))
        #expect(core.samples.count == 2)
        #expect(core.samples.allSatisfy { StaleNaN.isStale($0.value) && $0.timestamp == 2_000 })
        // Recovery: the series come back as normal samples.
        let report = try core.ingest("a 1\nb 2\n", at: 3_000).get()
        #expect(report.staleMarkers == 0)
        #expect(core.samples.map(\.value) == [1, 2])
    }

    @Test func failedScrapeMarksEverySeriesStale() throws {
        var core = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
        _ = try core.ingest("a 1\nb 2\nc 3\n", at: 1_000).get()
        core.failed(timestamp: 2_000)
        #expect(core.samples.count == 3)
        #expect(core.samples.allSatisfy { StaleNaN.isStale($0.value) })
        core.failed(timestamp: 3_000)
        #expect(core.samples.isEmpty)
    }

    @Test func conflictingLabelsAreExportedUnlessHonored() throws {
        let body = "m{job=\"scraped\",instance=\"i\",exported_job=\"x\"} 1\n"
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        _ = try core.ingest(body, at: 1).get()
        let labels = resolver.labels(core.samples[0].ref)
        #expect(labels["job"] == "node")
        #expect(labels["instance"] == "host:9100")
        #expect(labels["exported_instance"] == "i")
        #expect(labels["exported_exported_job"] == "scraped")
        #expect(labels["exported_job"] == "x")

        var honoring = ScrapeLoopCore(target: makeTarget(honorLabels: true), resolver: resolver)
        _ = try honoring.ingest(body, at: 1).get()
        let honored = resolver.labels(honoring.samples[0].ref)
        #expect(honored["job"] == "scraped")
        #expect(honored["instance"] == "i")
    }

    @Test func duplicateSeriesInOneScrapeAreDroppedAndCounted() throws {
        var core = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
        let report = try core.ingest("a 1\na 2\n", at: 1).get()
        #expect(report.duplicates == 1)
        #expect(core.samples.map(\.value) == [1])
    }

    @Test func duplicateLabelNameFailsTheScrape() {
        var core = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
        guard case .failure(let error) = core.ingest("m{a=\"1\",a=\"2\"} 1\n", at: 1) else {
            Issue.record("expected failure")
            return
        }
        #expect(error.message.contains("not unique"))
    }

    @Test func honorTimestampsFalseUsesScrapeTime() throws {
        var core = ScrapeLoopCore(target: makeTarget(honorTimestamps: false), resolver: RecordingResolver())
        _ = try core.ingest("a 1 1234\n", at: 9_000).get()
        #expect(core.samples[0].timestamp == 9_000)
    }

    @Test func reportSeriesCarryTheFiveSyntheticNames() throws {
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        let report = try core.ingest("a 1\nb 2\n", at: 1).get()
        core.appendReport(up: true, duration: 0.25, report: report, timestamp: 1)
        let names = core.samples.suffix(5).map { resolver.labels($0.ref)["__name__"] }
        #expect(names == ScrapeLoopCore.reportNames)
        #expect(core.samples.suffix(5).map(\.value) == [1, 0.25, 2, 2, 2])
        core.endOfRun(timestamp: 2)
        #expect(core.samples.count == 7)
        #expect(core.samples.allSatisfy { StaleNaN.isStale($0.value) })
    }

    @Test func churningTargetDoesNotGrowTheCacheWithoutBound() throws {
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        for round in 0..<6 {
            let body = (0..<1500).map { "m{i=\"\(round)-\($0)\"} 1" }.joined(separator: "\n")
            let report = try core.ingest(body, at: Int64(round)).get()
            #expect(report.seriesAdded == 1500)
            #expect(report.staleMarkers == (round == 0 ? 0 : 1500))
        }
        #expect(core.cachedSeries <= 3000)
    }
}

@Suite struct ScrapeTargetTests {
    @Test func populatesLabelsAndURLLikePrometheus() throws {
        var job = ScrapeConfig()
        job.jobName = "blackbox"
        job.metricsPath = "/probe"
        job.params = [(name: "module", values: ["http_2xx"])]
        let group = TargetGroup(source: "0", targets: [[("__address__", "bb:9115")]], labels: [("team", "sre")])
        let t = try #require(ScrapeTarget.make(job: job, group: group, target: group.targets[0]).target)
        #expect(t.url == "http://bb:9115/probe?module=http_2xx")
        #expect(t.labels == Labels([("instance", "bb:9115"), ("job", "blackbox"), ("team", "sre")]))
        #expect(t.discoveredLabels.contains { $0.name == "__param_module" && $0.value == "http_2xx" })
    }

    @Test func paramLabelsReplaceTheFirstValueAndKeysAreSortedLikeGo() throws {
        var job = ScrapeConfig()
        job.jobName = "p"
        job.params = [(name: "z", values: ["1", "2"]), (name: "module", values: ["a b"])]
        job.relabelConfigs = [
            try RelabelRule(targetLabel: "__param_z", replacement: "9"),
            try RelabelRule(targetLabel: "__param_extra", replacement: "x&y"),
        ]
        let group = TargetGroup(source: "0", targets: [[("__address__", "h:1")]], labels: [])
        let t = try #require(ScrapeTarget.make(job: job, group: group, target: group.targets[0]).target)
        #expect(t.url == "http://h:1/metrics?extra=x%26y&module=a+b&z=9&z=2")
    }

    @Test func offsetIsWithinTheIntervalAndStable() throws {
        let t = makeTarget()
        let a = t.offset(nowNanoseconds: 1_000_000_000_000, seed: 7)
        let b = t.offset(nowNanoseconds: 1_000_000_000_000, seed: 7)
        #expect(a == b)
        #expect(a >= .zero && a <= t.interval)
        var other = t
        other.key += "x"
        #expect(other.offset(nowNanoseconds: 1_000_000_000_000, seed: 7) != a)
    }
}

@Suite struct RelabelingAndLimitsTests {
    @Test func metricRelabelingDropsAndRewritesOncePerSeries() throws {
        let resolver = RecordingResolver()
        let target = makeTarget { job in
            job.metricRelabelConfigs = [
                try! RelabelRule(action: .drop, sourceLabels: ["__name__"], regex: "go_.*"),
                try! RelabelRule(sourceLabels: ["code"], regex: "(\\d)..", targetLabel: "class", replacement: "${1}xx"),
            ]
        }
        var core = ScrapeLoopCore(target: target, resolver: resolver)
        let body = "go_goroutines 5\nhttp_requests_total{code=\"404\"} 3\n"
        let report = try core.ingest(body, at: 1).get()
        #expect(report.samplesScraped == 2)
        #expect(report.samplesPostRelabeling == 1)
        #expect(report.seriesAdded == 1)
        #expect(resolver.labels(core.samples[0].ref)["class"] == "4xx")
        // The second scrape hits the cache for both the kept and the dropped series.
        let again = try core.ingest(body, at: 2).get()
        #expect(again.seriesAdded == 0)
        #expect(again.staleMarkers == 0)
        #expect(core.samples.count == 1)
        #expect(resolver.count == 6)  // five synthetic series and the one kept
    }

    @Test func sampleLimitFailsTheWholeScrape() throws {
        var core = ScrapeLoopCore(target: makeTarget { $0.sampleLimit = 2 }, resolver: RecordingResolver())
        _ = try core.ingest("a 1\nb 2\n", at: 1).get()
        guard case .failure(let error) = core.ingest("a 1\nb 2\nc 3\n", at: 2) else {
            Issue.record("expected failure")
            return
        }
        #expect(error.message == "sample limit exceeded")
        #expect(core.samples.count == 2)
        #expect(core.samples.allSatisfy { StaleNaN.isStale($0.value) })
    }

    @Test(arguments: [
        ("label_limit", "m{a=\"1\",b=\"2\"} 1", "label_limit exceeded (metric: m, number of labels: 5, limit: 4)"),
        ("label_name_length_limit", "m{abcdefghijk=\"1\"} 1", "label_name_length_limit exceeded"),
        ("label_value_length_limit", "m{a=\"0123456789ab\"} 1", "label_value_length_limit exceeded"),
    ])
    func labelLimitsFailTheScrape(limit: String, body: String, message: String) {
        let target = makeTarget { job in
            switch limit {
            case "label_limit": job.labelLimit = 4
            case "label_name_length_limit": job.labelNameLengthLimit = 10
            default: job.labelValueLengthLimit = 10
            }
        }
        var core = ScrapeLoopCore(target: target, resolver: RecordingResolver())
        guard case .failure(let error) = core.ingest(body, at: 1) else {
            Issue.record("expected failure")
            return
        }
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func relabelingAwayTheMetricNameFailsTheScrape() {
        let target = makeTarget { job in
            job.metricRelabelConfigs = [try! RelabelRule(action: .labeldrop, regex: "__name__")]
        }
        var core = ScrapeLoopCore(target: target, resolver: RecordingResolver())
        guard case .failure(let error) = core.ingest("m 1", at: 1) else {
            Issue.record("expected failure")
            return
        }
        #expect(error.message == "missing metric name (__name__ label)")
    }

    @Test func seriesWithTimestampsGetNoStalenessUnlessTracked() throws {
        var plain = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
        _ = try plain.ingest("a 1 1000\nb 2\n", at: 5_000).get()
        let report = try plain.ingest("c 3\n", at: 6_000).get()
        #expect(report.staleMarkers == 1)  // only b
        var tracking = ScrapeLoopCore(target: makeTarget { $0.trackTimestampsStaleness = true }, resolver: RecordingResolver())
        _ = try tracking.ingest("a 1 1000\nb 2\n", at: 5_000).get()
        #expect(try tracking.ingest("c 3\n", at: 6_000).get().staleMarkers == 2)
    }
}

@Suite struct TargetRelabelingTests {
    func job(_ rules: [RelabelRule], configure: (inout ScrapeConfig) -> Void = { _ in }) -> ScrapeConfig {
        var job = ScrapeConfig()
        job.jobName = "j"
        job.relabelConfigs = rules
        configure(&job)
        return job
    }

    @Test func relabelingSeesMetaLabelsAndSetsAddressPathAndParams() throws {
        let rules = [
            try RelabelRule(sourceLabels: ["__meta_port"], regex: "(.+)", targetLabel: "__address__", replacement: "10.0.0.1:$1"),
            try RelabelRule(sourceLabels: ["__meta_path"], targetLabel: "__metrics_path__"),
            try RelabelRule(targetLabel: "__param_target", replacement: "probe"),
            try RelabelRule(sourceLabels: ["__meta_team"], targetLabel: "team"),
            try RelabelRule(targetLabel: "__scrape_interval__", replacement: "15s"),
        ]
        let group = TargetGroup(
            source: "0", targets: [[("__address__", "ignored:1"), ("__meta_port", "8080"), ("__meta_path", "/m"),
                                    ("__meta_team", "sre")]], labels: [])
        let t = try #require(ScrapeTarget.make(job: job(rules), group: group, target: group.targets[0]).target)
        #expect(t.url == "http://10.0.0.1:8080/m?target=probe")
        #expect(t.labels == Labels([("instance", "10.0.0.1:8080"), ("job", "j"), ("team", "sre")]))
        #expect(t.interval == .seconds(15))
        #expect(t.discoveredLabels.contains { $0.name == "__meta_port" })
    }

    @Test func droppedAndAddresslessTargetsAreDropped() throws {
        let group = TargetGroup(source: "0", targets: [[("__address__", "a:1")]], labels: [])
        let drop = job([try RelabelRule(action: .drop, sourceLabels: ["__address__"], regex: "a:.*")])
        guard case .dropped(let labels) = ScrapeTarget.make(job: drop, group: group, target: group.targets[0]) else {
            Issue.record("expected dropped")
            return
        }
        #expect(labels.contains { $0.name == "__address__" && $0.value == "a:1" })
        let blank = job([try RelabelRule(sourceLabels: ["nothing"], targetLabel: "__address__")])
        guard case .dropped = ScrapeTarget.make(job: blank, group: group, target: group.targets[0]) else {
            Issue.record("expected dropped")
            return
        }
    }

    @Test func invalidIntervalsAreReported() throws {
        let group = TargetGroup(source: "0", targets: [[("__address__", "a:1")]], labels: [])
        let bad = job([try RelabelRule(targetLabel: "__scrape_timeout__", replacement: "2m")])
        guard case .invalid(_, let reason) = ScrapeTarget.make(job: bad, group: group, target: group.targets[0]) else {
            Issue.record("expected invalid")
            return
        }
        #expect(reason.contains("scrape timeout cannot be greater than scrape interval"))
    }

    @Test func targetLimitForcesAnErrorOnEveryTargetOfThePool() throws {
        var config = OutpostConfiguration()
        var limited = ScrapeConfig()
        limited.jobName = "limited"
        limited.targetLimit = 1
        var sc = StaticConfig()
        sc.targets = ["a:1", "b:2"]
        limited.staticConfigs = [sc]
        var kept = ScrapeConfig()
        kept.jobName = "kept"
        kept.keepDroppedTargets = 1
        kept.relabelConfigs = [try RelabelRule(action: .drop, sourceLabels: ["__address__"], regex: ".*")]
        kept.staticConfigs = [sc]
        config.scrapeConfigs = [limited, kept]
        let set = ScrapeManager.targets(for: config)
        #expect(set.active.count == 2)
        #expect(set.active.allSatisfy { $0.forcedError == "target_limit exceeded (number of targets: 2, limit: 1)" })
        #expect(set.dropped["kept"]?.total == 2)
        #expect(set.dropped["kept"]?.kept.count == 1)
    }
}
