import OutpostModel
import Relabel
import Scrape
import Testing

/// OpenMetrics `_created` lines become start times of the lines of their point (counters'
/// `_total`, histograms' and summaries' every line), reported when new or changed.
@Suite struct StartTimestampTests {
    static let body = """
        # TYPE req counter
        req_total{path="/a",code="200"} 10
        req_created{path="/a",code="200"} 1700000000.1239
        req_total{path="/b",code="200"} 5
        # TYPE lat_seconds histogram
        lat_seconds_bucket{path="/a",le="0.1"} 1
        lat_seconds_bucket{path="/a",le="+Inf"} 2
        lat_seconds_count{path="/a"} 2
        lat_seconds_sum{path="/a"} 0.3
        lat_seconds_created{path="/a"} 1700000001
        lat_seconds_bucket{path="/b",le="0.1"} 0
        lat_seconds_bucket{path="/b",le="+Inf"} 0
        lat_seconds_count{path="/b"} 0
        lat_seconds_sum{path="/b"} 0
        lat_seconds_created{path="/b"} 1700000003
        # TYPE rpc summary
        rpc{quantile="0.5"} 1
        rpc_count 3
        rpc_sum 4
        rpc_created 1700000002.5
        # TYPE up_created gauge
        up_created 5
        # EOF

        """

    /// The reported start times by metric name and path.
    static func starts(_ core: ScrapeLoopCore, _ resolver: RecordingResolver) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for s in core.starts {
            let l = resolver.labels(s.ref)
            let key = [l["__name__"], l["path"], l["le"], l["quantile"]].compactMap { $0 }.joined(separator: " ")
            #expect(out[key] == nil, "\(key) reported twice")
            out[key] = s.start
        }
        return out
    }

    @Test func createdLinesGiveTheirPointsStartTimes() throws {
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        let report = try core.ingest(Self.body, format: .openMetrics, at: 1_700_000_100_000).get()
        #expect(report.samplesScraped == 18)  // `_created` lines stay series, as in Prometheus
        #expect(
            Self.starts(core, resolver) == [
                "req_total /a": 1_700_000_000_123,
                "lat_seconds_bucket /a 0.1": 1_700_000_001_000, "lat_seconds_bucket /a +Inf": 1_700_000_001_000,
                "lat_seconds_count /a": 1_700_000_001_000, "lat_seconds_sum /a": 1_700_000_001_000,
                "lat_seconds_bucket /b 0.1": 1_700_000_003_000, "lat_seconds_bucket /b +Inf": 1_700_000_003_000,
                "lat_seconds_count /b": 1_700_000_003_000, "lat_seconds_sum /b": 1_700_000_003_000,
                "rpc 0.5": 1_700_000_002_500, "rpc_count": 1_700_000_002_500, "rpc_sum": 1_700_000_002_500,
            ])

        // Unchanged: nothing to report. A counter that restarted: its new start time only.
        _ = try core.ingest(Self.body, format: .openMetrics, at: 1_700_000_115_000).get()
        #expect(core.starts.isEmpty)
        let restarted = Self.body.replacingOccurrences(of: "1700000000.1239", with: "1700000110")
        _ = try core.ingest(restarted, format: .openMetrics, at: 1_700_000_130_000).get()
        #expect(Self.starts(core, resolver) == ["req_total /a": 1_700_000_110_000])

        // A failed scrape reports nothing and commits nothing: the change is reported once it succeeds.
        let again = Self.body.replacingOccurrences(of: "1700000110", with: "1700000140")
            .replacingOccurrences(of: "1700000000.1239", with: "1700000140")
        let broken = again.replacingOccurrences(of: "# EOF\n", with: "")
        #expect((try? core.ingest(broken, format: .openMetrics, at: 1_700_000_145_000).get()) == nil)
        #expect(core.starts.isEmpty)
        _ = try core.ingest(again, format: .openMetrics, at: 1_700_000_160_000).get()
        #expect(Self.starts(core, resolver) == ["req_total /a": 1_700_000_140_000])
    }

    @Test func theTextFormatHasNoStartTimes() throws {
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        let text = Self.body.replacingOccurrences(of: "# EOF\n", with: "")
        let report = try core.ingest(text, format: .prometheusText, at: 1_000).get()
        #expect(report.samplesScraped == 18)
        #expect(core.starts.isEmpty)
    }

    @Test func droppingCreatedSeriesKeepsTheStartTimes() throws {
        let resolver = RecordingResolver()
        let target = makeTarget { job in
            job.metricRelabelConfigs = [try! RelabelRule(action: .drop, sourceLabels: ["__name__"], regex: ".*_created")]
        }
        var core = ScrapeLoopCore(target: target, resolver: resolver)
        let report = try core.ingest(Self.body, format: .openMetrics, at: 1_000).get()
        #expect(report.samplesPostRelabeling == 13)
        #expect(Self.starts(core, resolver)["req_total /a"] == 1_700_000_000_123)
        #expect(core.starts.count == 12)
    }

    @Test func reportAgainRepeatsEveryStartTime() throws {
        var core = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
        _ = try core.ingest(Self.body, format: .openMetrics, at: 1_000).get()
        #expect(core.starts.count == 12)
        core.reportAgain()  // the WAL append lost them
        _ = try core.ingest(Self.body, format: .openMetrics, at: 2_000).get()
        #expect(core.starts.count == 12)
        #expect(core.metadata.count == 4)
    }
}
