import Exposition
import Testing

/// Parses `text` and returns (series text, value, timestamp) per sample line.
func parseAll(_ text: String) throws -> [(series: String, value: Double, timestamp: Int64?)] {
    let bytes = Array(text.utf8)
    return try bytes.withUnsafeBytes { raw in
        var parser = TextParser(raw)
        var line = ExpositionSample()
        var out: [(series: String, value: Double, timestamp: Int64?)] = []
        while try parser.next(&line) {
            out.append((String(decoding: raw[line.series], as: UTF8.self), line.value, line.timestamp))
        }
        return out
    }
}

func parseError(_ text: String) -> ExpositionError? {
    do {
        _ = try parseAll(text)
        return nil
    } catch let error as ExpositionError {
        return error
    } catch {
        return nil
    }
}

@Suite struct TextParserTests {
    @Test func parsesSamplesCommentsAndTimestamps() throws {
        let body = """
            # HELP http_requests_total The total number of HTTP requests.
            # TYPE http_requests_total counter
            http_requests_total{method="post",code="200"} 1027 1395066363000
            http_requests_total{method="post",code="400"}    3 1395066363000

            # A plain comment
            metric_without_timestamp_and_labels 12.47
            rpc_duration_seconds{quantile="0.5"} 4.773e+03
            go_gc_duration_seconds{quantile="0"} 1.7355e-05
            zero 0
            something_weird{problem="division by zero"} +Inf -3982045
            neg -Inf
            not_a_number NaN
            """
        let got = try parseAll(body)
        #expect(got.count == 9)
        #expect(got[0].series == #"http_requests_total{method="post",code="200"}"#)
        #expect(got[0].value == 1027)
        #expect(got[0].timestamp == 1_395_066_363_000)
        #expect(got[1].value == 3)
        #expect(got[2].series == "metric_without_timestamp_and_labels")
        #expect(got[2].timestamp == nil)
        #expect(got[3].value == 4773)
        #expect(got[4].value == 1.7355e-05)
        #expect(got[5].value == 0)
        #expect(got[6].value == .infinity)
        #expect(got[6].timestamp == -3_982_045)
        #expect(got[7].value == -.infinity)
        #expect(got[8].value.isNaN)
    }

    @Test func acceptsCRLFAndMissingFinalNewline() throws {
        let got = try parseAll("a 1\r\nb{x=\"y\"} 2\r\nc 3")
        #expect(got.map(\.series) == ["a", #"b{x="y"}"#, "c"])
        #expect(got.map(\.value) == [1, 2, 3])
    }

    @Test func keepsEscapesInsideSeriesKey() throws {
        let got = try parseAll(#"m{path="C:\\dir\"x\"",n="a\nb"} 5"# + "\n")
        #expect(got.count == 1)
        #expect(got[0].value == 5)
    }

    @Test(arguments: [
        ("metric", 1, "expected value after metric"),
        ("metric{a=\"b\" 1", 1, "expected comma or closing brace"),
        ("ok 1\nmetric abc", 2, "expected value after metric, got \"abc\""),
        ("m{a=b} 1", 1, "expected label value"),
        ("m 1 2 3", 1, "expected end of line"),
        ("m 1 12.5", 1, "invalid timestamp"),
        ("# TYPE m bogus", 1, "invalid metric type"),
        ("{a=\"b\"} 1", 1, "expected metric name"),
        ("m 0x10", 1, "expected value after metric"),
    ])
    func rejectsMalformedLines(text: String, line: Int, message: String) {
        let error = parseError(text)
        #expect(error?.line == line)
        #expect(error?.message.contains(message) == true, "got \(String(describing: error))")
    }

    @Test func floatParserAgreesWithSwiftOnValidForms() {
        for text in ["0", "1", "-1.5", "1e3", "1E-3", ".5", "5.", "+7", "123456789.125", "0x1p-2", "Inf", "-inf"] {
            let expected = Double(text) ?? (text.lowercased().hasSuffix("inf") ? (text.hasPrefix("-") ? -.infinity : .infinity) : .nan)
            let got = Array(text.utf8).withUnsafeBytes { FloatParser.parse($0) }
            #expect(got == expected, "\(text)")
        }
        for text in ["", "1..2", "abc", "1e", "0x10", "1_000", "nan(1)"] {
            #expect(Array(text.utf8).withUnsafeBytes { FloatParser.parse($0) } == nil, "\(text)")
        }
    }
}
