import Exposition
import OutpostModel
import Scrape
import Testing

/// TYPE, HELP and UNIT lines: read by both parsers, and reported by the scrape loop only when a
/// family's metadata is new or changed.
@Suite struct MetadataTests {
    @Test func bothParsersReportMetadataLines() throws {
        let text = "# HELP a_total Requests \\\\ served.\\nSecond line.\n# TYPE a_total counter\na_total 1\n# HELP b x\nb 2\n"
        let lines = Array(text.utf8).withUnsafeBytes { body -> [(MetadataLine.Kind, String, String, MetricType)] in
            var p = TextParser(body)
            var s = ExpositionSample()
            while (try? p.next(&s)) == true {}
            return p.metadata.map { ($0.kind, $0.familyName(in: body), $0.text(in: body), $0.type) }
        }
        #expect(lines.map(\.0) == [.help, .type, .help])
        #expect(lines[0].1 == "a_total" && lines[0].2 == "Requests \\ served.\nSecond line.")
        #expect(lines[1].3 == .counter)
        #expect(lines[2].1 == "b" && lines[2].2 == "x")

        let om = "# TYPE d_seconds histogram\n# UNIT d_seconds seconds\n# HELP d_seconds Latency \"quoted\".\nd_seconds_count 1\n# EOF\n"
        let omLines = Array(om.utf8).withUnsafeBytes { body -> [(MetadataLine.Kind, String, String)] in
            var p = OpenMetricsParser(body)
            var s = ExpositionSample()
            while (try? p.next(&s)) == true {}
            return p.metadata.map { ($0.kind, $0.familyName(in: body), $0.text(in: body)) }
        }
        #expect(omLines.map(\.0) == [.type, .unit, .help])
        #expect(omLines[1].2 == "seconds")
        #expect(omLines[2].2 == "Latency \"quoted\".")
    }

    @Test func onlyNewOrChangedFamiliesAreReported() throws {
        var core = ScrapeLoopCore(target: makeTarget(), resolver: RecordingResolver())
        let body = "# HELP a Alpha.\n# TYPE a gauge\na 1\n# TYPE b counter\nb 2\nc 3\n"
        _ = try core.ingest(body, at: 1_000).get()
        #expect(core.metadata == [MetricMetadata(family: "a", type: .gauge, help: "Alpha."), MetricMetadata(family: "b", type: .counter)])
        _ = try core.ingest(body, at: 2_000).get()
        #expect(core.metadata.isEmpty)
        _ = try core.ingest(body.replacingOccurrences(of: "Alpha.", with: "Alpha, reworded."), at: 3_000).get()
        #expect(core.metadata == [MetricMetadata(family: "a", type: .gauge, help: "Alpha, reworded.")])
        // A failed scrape reports nothing.
        core.failed(timestamp: 4_000)
        #expect(core.metadata.isEmpty)
    }
}
