import OutpostModel
import Exposition
import Testing

@Suite struct TextParserTests {
    @Test func parsesSamplesCommentsAndTimestamps() throws {
        let body = """
            # HELP http_requests_total Requests served, by method and code.
            # TYPE http_requests_total counter
            http_requests_total{method="post",code="200"} 1027 1395066363000
            http_requests_total{method="post",code="400"}    3 1395066363000

            # A plain comment
            metric_without_timestamp_and_labels 12.47
            rpc_duration_seconds{quantile="0.5"} 4.773e+03
            go_gc_duration_seconds{quantile="0"} 1.7355e-05
            zero 0
            weird{problem="division by zero"} +Inf
            neg -Inf
            not_a_number NaN
            """
        let got = try parse(body)
        #expect(got.count == 9)
        #expect(got[0] == sample("http_requests_total", ["method": "post", "code": "200"], 1027, 1_395_066_363_000))
        #expect(got[0].type == .counter)
        #expect(got[1].value == 3)
        #expect(got[2] == sample("metric_without_timestamp_and_labels", 12.47))
        #expect(got[3].value == 4773)
        #expect(got[4].value == 1.7355e-05)
        #expect(got[5].value == 0)
        #expect(got[6].value == .infinity)
        #expect(got[7].value == -.infinity)
        #expect(got[8].value.isNaN)
    }

    /// Accepted inputs and exactly what they parse to.
    @Test(arguments: [
        ("a 1\r\nb{x=\"y\"} 2\r\nc 3", [sample("a", 1), sample("b", ["x": "y"], 2), sample("c", 3)]),
        ("m{} 1\n", [sample("m", 1)]),
        ("m{a=\"1\",} 1\n", [sample("m", ["a": "1"], 1)]),
        ("m{a=\"1\" b=\"2\"} 1\n", [sample("m", ["a": "1", "b": "2"], 1)]),
        ("m { a = \"1\" , b=\"2\" }   7   42  \n", [sample("m", ["a": "1", "b": "2"], 7, 42)]),
        ("\n\n  \nm 1\n\n", [sample("m", 1)]),
        (#"m{p="C:\\dir\"x\"",n="a\nb",o="\q"} 5"#, [sample("m", ["p": #"C:\dir"x""#, "n": "a\nb", "o": #"\q"#], 5)]),
        ("m{v=\"line1\nline2\"} 1\n", [sample("m", ["v": "line1\nline2"], 1)]),
        (#"{"my.metric", "label.name"="v"} 1"#, [sample("my.metric", ["label.name": "v"], 1)]),
        (#"{"my.metric"} 1"#, [sample("my.metric", 1)]),
        (#"{a="b", "my\"quoted"} 2"#, [sample("my\"quoted", ["a": "b"], 2)]),
        (#"ok{"dotted.name"="x"} 3 100"#, [sample("ok", ["dotted.name": "x"], 3, 100)]),
        ("#HELP not metadata\n# TYPE m gauge\n# HELP m\nm 1", [sample("m", 1)]),
        ("# TYPE \"my.metric\" gauge\n{\"my.metric\"} 1\n", [sample("my.metric", 1)]),
    ] as [(String, [Parsed])])
    func accepts(text: String, expected: [Parsed]) throws {
        #expect(try parse(text) == expected)
    }

    /// Rejected inputs: the line and the words of the error.
    @Test(arguments: [
        ("metric", 1, "expected value after metric"),
        ("metric{a=\"b\" 1", 1, "expected label name, got \"1\""),
        ("ok 1\nmetric abc", 2, "expected value after metric, got \"abc\""),
        ("m{a=b} 1", 1, "expected label value"),
        ("m 1 2 3", 1, "expected end of line"),
        ("m 1 12.5", 1, "invalid timestamp"),
        ("m 1 -5", 1, "invalid timestamp"),
        ("m 1 +5", 1, "invalid timestamp"),
        ("# TYPE m bogus", 1, "invalid metric type"),
        ("# TYPE m unknown", 1, "invalid metric type"),
        ("# TYPE m counter extra", 1, "linebreak expected after metadata"),
        ("# TYPE", 1, "expected metric name after TYPE"),
        ("{a=\"b\"} 1", 1, "metric name not set"),
        ("m{\"x\", \"y\"} 1", 1, "metric name already set"),
        ("m 0x10", 1, "expected value after metric"),
        ("m 0x1p-2", 1, "expected value after metric"),
        ("m 1_000", 1, "expected value after metric"),
        ("m +NaN", 1, "expected value after metric"),
        ("m{a=\"b\"", 1, "unexpected end of input in label set"),
        ("m{a=\"b", 1, "unterminated quoted string"),
        ("m{1a=\"b\"} 1", 1, "expected label name"),
        ("a 1\nb 2\n9bad 1", 3, "expected metric name"),
        // Values may span lines; the lines they span count.
        ("m{a=\"x\ny\"} 1\nbad", 3, "expected value after metric"),
        ("m{a=\"x\\\ny\",b=\"\n\n\"} 1\nbad", 5, "expected value after metric"),
        ("m{a=\"x\ny", 2, "unterminated quoted string"),
    ])
    func rejects(text: String, line: Int, message: String) {
        let error = parseError(text)
        #expect(error?.line == line, "got \(String(describing: error))")
        #expect(error?.message.contains(message) == true, "got \(String(describing: error))")
    }

    @Test func typeAppliesToFollowingLinesUntilTheNextTypeLine() throws {
        let got = try parse("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 2\nother 3\n# TYPE g gauge\ng 1\n")
        #expect(got.map(\.type) == [.histogram, .histogram, .histogram, .gauge])
    }

    @Test func floatParserAgreesWithSwiftOnValidForms() {
        let valid = [
            "0", "1", "-1.5", "1e3", "1E-3", ".5", "5.", "+7", "123456789.125", "Inf", "-inf", "+Infinity",
            "1.7976931348623157e308", "4.9e-324", "0.1", "0.30000000000000004", "123456789012345678",
            "1234567890.1234567", "9007199254740993", "1e22", "1e23", "-0", "00012.50", "2.5e-05", "1e-300",
        ]
        for text in valid {
            let lower = text.lowercased()
            let expected =
                lower.hasSuffix("inf") || lower.hasSuffix("infinity") ? (text.hasPrefix("-") ? -.infinity : .infinity)
                : Double(text)
            let got = Array(text.utf8).withUnsafeBytes { FloatParser.parse($0) }
            #expect(got == expected, "\(text)")
            #expect(got?.sign == expected?.sign, "\(text)")
        }
        for text in ["", "1..2", "abc", "1e", "0x10", "0x1p-2", "1_000", "nan(1)", "-nan", "1e+", ".", "e5", "1 "] {
            #expect(Array(text.utf8).withUnsafeBytes { FloatParser.parse($0) } == nil, "\(text)")
        }
        #expect(Array("NaN".utf8).withUnsafeBytes { FloatParser.parse($0) }?.isNaN == true)
    }

    /// Every short decimal takes the fast path; it must agree with the correctly rounded reading.
    @Test func fastPathIsExactOnRandomDecimals() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            let mantissa = rng.next() % 1_000_000_000_000_000
            let exponent = Int(rng.next() % 45) - 22
            let text = "\(mantissa)e\(exponent)"
            let got = Array(text.utf8).withUnsafeBytes { FloatParser.parse($0) }
            #expect(got == Double(text), "\(text)")
        }
    }

    @Test func openMetricsFloatSpellingMatchesGo() {
        let cases: [(Double, String)] = [
            (1, "1.0"), (0, "0.0"), (-1, "-1.0"), (0.5, "0.5"), (10, "10.0"), (100_000, "100000.0"),
            (1_000_000, "1e+06"), (2.5e-05, "2.5e-05"), (0.0001, "0.0001"), (0.00001, "1e-05"), (.infinity, "+Inf"),
            (-.infinity, "-Inf"), (.nan, "NaN"), (123456.7, "123456.7"), (1234567.5, "1.2345675e+06"),
            (0.005, "0.005"), (1e21, "1e+21"), (-0.25, "-0.25"), (1e100, "1e+100"),
        ]
        for (v, want) in cases { #expect(OpenMetricsFloat.format(v) == want, "\(v)") }
        #expect(OpenMetricsFloat.normalize(Array("1".utf8)) == Array("1.0".utf8))
        #expect(OpenMetricsFloat.normalize(Array("+Inf".utf8)) == Array("+Inf".utf8))
        #expect(OpenMetricsFloat.normalize(Array("abc".utf8)) == nil)
    }

    @Test(arguments: [
        ("text/plain; version=0.0.4; charset=utf-8", ExpositionFormat.prometheusText),
        ("application/openmetrics-text; version=1.0.0; charset=utf-8", .openMetrics),
        ("Application/OpenMetrics-Text", .openMetrics),
        ("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited", .prometheusProto),
    ])
    func contentTypeNamesTheFormat(header: String, format: ExpositionFormat) {
        #expect(ContentType.format(of: header) == .success(format))
    }

    @Test func unusableContentTypesAreExplained() {
        #expect(ContentType.format(of: nil) == .failure(.blank))
        #expect(ContentType.format(of: "  ") == .failure(.blank))
        #expect(ContentType.format(of: "text") == .failure(.unparseable("text")))
        #expect(ContentType.format(of: "text/html; charset=utf-8") == .failure(.unsupported("text/html; charset=utf-8")))
    }
}

/// A small deterministic generator for tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - Helpers shared by the exposition tests

/// One parsed line, decoded the way the scrape loop reads it on a cache miss.
struct Parsed: Equatable, CustomStringConvertible {
    var name: String
    var labels: [String: String]
    var value: Double
    var timestamp: Int64?
    var type: MetricType = .unknown
    var exemplar: String? = nil

    var description: String { "\(name)\(labels.sorted { $0.key < $1.key }) \(value) \(timestamp.map(String.init) ?? "-")" }

    static func == (a: Parsed, b: Parsed) -> Bool {
        a.name == b.name && a.labels == b.labels && a.timestamp == b.timestamp && a.exemplar == b.exemplar
            && (a.value == b.value || (a.value.isNaN && b.value.isNaN))
    }
}

enum Format { case text, openMetrics }

/// Parses `text` completely with the parser for `format`.
func parse(_ text: String, _ format: Format = .text) throws(ExpositionError) -> [Parsed] {
    let bytes = Array(text.utf8)
    let result = bytes.withUnsafeBytes { raw -> Result<[Parsed], ExpositionError> in
        do throws(ExpositionError) {
            switch format {
            case .text:
                var p = TextParser(raw)
                return .success(try drain(&p, raw))
            case .openMetrics:
                var p = OpenMetricsParser(raw)
                return .success(try drain(&p, raw))
            }
        } catch {
            return .failure(error)
        }
    }
    return try result.get()
}

func drain<P: ExpositionParser>(_ p: inout P, _ raw: UnsafeRawBufferPointer) throws(ExpositionError) -> [Parsed] {
    var line = ExpositionSample()
    var out: [Parsed] = []
    while try p.next(&line) {
        var labels: [String: String] = [:]
        LabelPairs.forEach(in: raw, range: line.labels) { n, v in
            labels[String(decoding: n, as: UTF8.self)] = String(decoding: v, as: UTF8.self)
        }
        var exemplar: String? = nil
        if let e = line.exemplar {
            var pairs: [String] = []
            LabelPairs.forEach(in: raw, range: e.labels) { n, v in
                pairs.append(String(decoding: n, as: UTF8.self) + "=" + String(decoding: v, as: UTF8.self))
            }
            exemplar = "{\(pairs.joined(separator: ","))} \(e.value)" + (e.timestamp.map { " \($0)" } ?? "")
        }
        out.append(
            Parsed(
                name: String(decoding: LabelPairs.metricName(in: raw, line), as: UTF8.self), labels: labels,
                value: line.value, timestamp: line.timestamp, type: line.type, exemplar: exemplar))
    }
    return out
}

/// The error parsing `text` raises, or nil when it parses.
func parseError(_ text: String, _ format: Format = .text) -> ExpositionError? {
    do {
        _ = try parse(text, format)
        return nil
    } catch {
        return error
    }
}

func sample(
    _ name: String, _ labels: [String: String] = [:], _ value: Double, _ ts: Int64? = nil, exemplar: String? = nil
) -> Parsed {
    Parsed(name: name, labels: labels, value: value, timestamp: ts, exemplar: exemplar)
}

func sample(_ name: String, _ value: Double, _ ts: Int64? = nil) -> Parsed {
    Parsed(name: name, labels: [:], value: value, timestamp: ts)
}
