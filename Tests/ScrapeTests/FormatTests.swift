import Exposition
import OutpostConfig
import OutpostModel
@testable import Scrape
import Testing

extension ScrapeLoopCore {
    mutating func ingest(_ text: String, format: ExpositionFormat, at ts: Int64) -> Result<ScrapeReport, ScrapeBodyError> {
        Array(text.utf8).withUnsafeBytes { ingest(body: $0, format: format, timestamp: ts) }
    }
}

/// How the scrape loop treats the formats: OpenMetrics bodies, name validation, bound spelling,
/// repeated and out-of-order samples, and the request headers.
@Suite struct FormatTests {
    @Test func openMetricsBodyBecomesSamplesWithMillisecondTimestamps() throws {
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        let body = """
            # TYPE rpc_seconds histogram
            rpc_seconds_bucket{le="1"} 8 # {trace_id="abc"} 0.5 1600000000.1
            rpc_seconds_bucket{le="+Inf"} 9
            rpc_seconds_count 9 1600000000.25
            # EOF

            """
        let report = try core.ingest(body, format: .openMetrics, at: 7_000).get()
        #expect(report.samplesScraped == 3)
        #expect(core.samples.map(\.timestamp) == [7_000, 7_000, 1_600_000_000_250])
        #expect(resolver.labels(core.samples[0].ref)["le"] == "1.0")
        #expect(resolver.labels(core.samples[1].ref)["le"] == "+Inf")

        // The same body as text fails: "#" lines are comments there, but "# EOF" is not the issue —
        // the exemplar after the value is.
        var text = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
        guard case .failure(let error) = text.ingest(body, format: .prometheusText, at: 1) else {
            Issue.record("the text parser accepted an exemplar")
            return
        }
        #expect(error.kind == .parse)
        #expect(error.message.hasPrefix("line 2: "))
    }

    @Test func missingEOFFailsTheWholeScrapeAndAppendsNothing() throws {
        var core = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
        _ = try core.ingest("a 1\n# EOF\n", format: .openMetrics, at: 1).get()
        guard case .failure(let error) = core.ingest("a 1\nb 2\n", format: .openMetrics, at: 2) else {
            Issue.record("expected failure")
            return
        }
        #expect(error.message == "line 3: data does not end with # EOF")
        // Only the staleness marker for the previous scrape's series.
        #expect(core.samples.count == 1)
        #expect(StaleNaN.isStale(core.samples[0].value))
    }

    @Test func emptyBodyIsAnEmptyScrapeInEveryFormat() throws {
        for format in [ExpositionFormat.openMetrics, .prometheusText, .prometheusProto] {
            var core = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
            _ = try core.ingest("a 1\n", format: .prometheusText, at: 1).get()
            let report = try core.ingest("", format: format, at: 2).get()
            #expect(report.samplesScraped == 0)
            #expect(report.staleMarkers == 1)
        }
    }

    @Test func summaryQuantilesAreSpelledAsFloatsInBothFormats() throws {
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        _ = try core.ingest(
            "# TYPE s summary\ns{quantile=\"0\"} 1\ns{quantile=\"1e-2\"} 2\n# TYPE g gauge\ng{quantile=\"1\"} 3\n",
            format: .prometheusText, at: 1
        ).get()
        #expect(core.samples.map { resolver.labels($0.ref)["quantile"] } == ["0.0", "0.01", "1"])
    }

    @Test func utf8NamesAreAcceptedUnlessTheJobAsksForLegacyNames() throws {
        let body = #"{"http.requests", "server.name"="a"} 1"# + "\n"
        let resolver = RecordingResolver()
        var core = ScrapeLoopCore(target: makeTarget(), resolver: resolver)
        _ = try core.ingest(body, format: .prometheusText, at: 1).get()
        let labels = resolver.labels(core.samples[0].ref)
        #expect(labels["__name__"] == "http.requests")
        #expect(labels["server.name"] == "a")

        var legacy = ScrapeLoopCore(
            target: makeTarget { $0.nameValidation = .legacy }, resolver: RecordingResolver())
        guard case .failure(let error) = legacy.ingest(body, format: .prometheusText, at: 1) else {
            Issue.record("legacy validation accepted a dotted name")
            return
        }
        #expect(error.message.hasPrefix("invalid metric name or label names"))
    }

    @Test func invalidUTF8LabelValueFailsTheScrape() {
        var core = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
        let body = Array("m{a=\"".utf8) + [0xFF, 0xFE] + Array("\"} 1\n".utf8)
        let result = body.withUnsafeBytes { core.ingest(body: $0, timestamp: 1) }
        guard case .failure(let error) = result else {
            Issue.record("expected failure")
            return
        }
        #expect(error.message.hasPrefix("invalid metric name or label names"))
    }

    @Test func repeatsWithTheirOwnTimestampsAreKeptAndOlderOnesAreOutOfOrder() throws {
        var core = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
        // Within one scrape, the agent accepts a series again when it carries a timestamp.
        let first = try core.ingest("a 1 1000\na 2 2000\nb 1\nb 2\n", format: .prometheusText, at: 5_000).get()
        #expect(first.duplicates == 1)
        #expect(core.samples.map(\.value) == [1, 2, 1])
        // The next scrape repeats a's newest timestamp: not newer, so out of order and dropped.
        let second = try core.ingest("a 3 2000\na 4 3000\nb 3\n", format: .prometheusText, at: 10_000).get()
        #expect(second.outOfOrder == 1)
        #expect(core.samples.map(\.value) == [4, 3])
    }

    @Test func aTrackedSeriesRepeatedWithTimestampsGetsOneStalenessMarker() throws {
        var core = ScrapeLoopCore(target: makeTarget { $0.trackTimestampsStaleness = true }, resolver: RecordingResolver())
        _ = try core.ingest("a 1 1000\na 2 2000\n", format: .prometheusText, at: 5_000).get()
        let report = try core.ingest("", format: .prometheusText, at: 10_000).get()
        #expect(report.staleMarkers == 1)
        #expect(core.samples.count == 1)
    }

    @Test func failedScrapeDoesNotAdvanceTheTimestampsItRead() throws {
        var core = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
        _ = try core.ingest("a 1 1000\n", format: .prometheusText, at: 1).get()
        _ = core.ingest("a 2 2000\nbad line\n", format: .prometheusText, at: 2)
        let report = try core.ingest("a 3 2000\n", format: .prometheusText, at: 3).get()
        #expect(report.outOfOrder == 0)
        #expect(core.samples.map(\.value) == [3])
    }

    @Test func protobufResponsesFailWithAClearMessage() {
        var core = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
        guard case .failure(let error) = core.ingest("\u{8}\u{1}", format: .prometheusProto, at: 1) else {
            Issue.record("expected failure")
            return
        }
        #expect(error.message.contains("protobuf format is not supported"))
    }

    @Test func acceptHeaderMatchesPrometheus() {
        #expect(
            acceptHeader(ScrapeProtocol.defaults, escaping: "allow-utf-8")
                == "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
                + "application/openmetrics-text;version=0.0.1;q=0.5,"
                + "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
        #expect(acceptHeader([.prometheusText0_0_4], escaping: "underscores") == "text/plain;version=0.0.4;q=0.6,*/*;q=0.5")
    }

    @Test func jobSettingsReachTheTarget() {
        let target = makeTarget {
            $0.scrapeProtocols = [.prometheusText0_0_4]
            $0.fallbackScrapeProtocol = .openMetricsText1_0_0
            $0.bodySizeLimit = 1024
            $0.enableCompression = false
            $0.fingerprint = "f1"
        }
        #expect(target.options.scrapeProtocols == [.prometheusText0_0_4])
        #expect(target.options.fallbackProtocol == .openMetricsText1_0_0)
        #expect(target.options.bodySizeLimit == 1024)
        #expect(target.options.enableCompression == false)
        // A changed job config changes the target's key, which restarts its loop on reload.
        #expect(target.key != makeTarget { $0.fingerprint = "f2" }.key)
    }
}
