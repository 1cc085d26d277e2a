import OutpostModel
import Exposition
import Foundation
import Testing

/// A seeded mutation fuzzer over real-looking exposition bodies, bounded so it runs in `make test`
/// (set OUTPOST_FUZZ_ITERATIONS for a longer hunt). Any input that ever crashed a parser is kept
/// in `Regressions/` and replayed by ``regressionInputsParseOrFailCleanly()``.
@Suite struct FuzzTests {
    static let iterations = Int(ProcessInfo.processInfo.environment["OUTPOST_FUZZ_ITERATIONS"] ?? "") ?? 20_000

    static let seeds: [String] = [
        """
        # HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
        # TYPE node_cpu_seconds_total counter
        node_cpu_seconds_total{cpu="0",mode="idle"} 2.24e+06
        node_cpu_seconds_total{cpu="0",mode="user"} 31527.5 1700000000000
        # TYPE http_request_duration_seconds histogram
        http_request_duration_seconds_bucket{le="0.05"} 24054
        http_request_duration_seconds_bucket{le="+Inf"} 144320
        http_request_duration_seconds_sum 53423
        http_request_duration_seconds_count 144320
        {"my.metric", "label.name"="v\\"q\\n"} NaN
        weird { a = "x" b="y" , } -Inf

        """,
        """
        # TYPE rpc_seconds histogram
        # UNIT rpc_seconds seconds
        rpc_seconds_bucket{le="0.1"} 8 # {trace_id="KOO5S4vxi0o"} 0.067 1600000000.123
        rpc_seconds_bucket{le="+Inf"} 9 1600000000.5
        rpc_seconds_count 9
        # TYPE door stateset
        door{door="open"} 1
        # TYPE c counter
        c_total{"a.b"="1",} 3
        c_created 1600000000
        # EOF

        """,
    ]

    @Test func mutatedBodiesNeverCrashEitherParser() {
        var rng = SplitMix64(seed: 0x5EED_0F_F022)
        var parsed = 0
        var rejected = 0
        for i in 0..<Self.iterations {
            var body = Array(Self.seeds[i % Self.seeds.count].utf8)
            let rounds = 1 + Int(rng.next() % 4)
            for _ in 0..<rounds { mutate(&body, &rng) }
            for format in [Format.text, .openMetrics] {
                if exercise(body, format) { parsed += 1 } else { rejected += 1 }
            }
        }
        // Both outcomes must occur, or the mutations are not reaching the grammar.
        #expect(parsed > Self.iterations / 20)
        #expect(rejected > Self.iterations / 20)
    }

    @Test func hostileBodiesFailCleanly() {
        let big = 1 << 20
        let bodies: [[UInt8]] = [
            Array(repeating: UInt8(ascii: "{"), count: big),
            Array("m{a=\"".utf8) + Array(repeating: UInt8(ascii: "x"), count: big),
            Array("m{a=\"".utf8) + Array(repeating: UInt8(ascii: "\\"), count: big),
            Array(repeating: Array("#\n".utf8), count: big / 2).flatMap { $0 },
            Array(repeating: UInt8(ascii: "a"), count: big) + Array(" 1\n".utf8),
            Array(0...255),
            Array("m 1\n# EOF".utf8) + [0],
            Array("{\"".utf8),
            Array("m{\"a\"".utf8),
            Array("# TYPE \"".utf8),
            Array("m 1 # {".utf8),
        ]
        for body in bodies {
            for format in [Format.text, .openMetrics] { _ = exercise(body, format) }
        }
        // The long name with a value is a valid text line.
        #expect(exercise(bodies[4], .text))
    }

    @Test func regressionInputsParseOrFailCleanly() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Regressions")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".bin") }
        #expect(!files.isEmpty)
        for file in files {
            let body = try [UInt8](Data(contentsOf: dir.appendingPathComponent(file)))
            for format in [Format.text, .openMetrics] { _ = exercise(body, format) }
        }
    }
}

/// Parses `body` to the end or the first error, reading every sample the way the scrape loop does,
/// and checks every range stays inside the body. True when the body parsed.
@discardableResult
func exercise(_ body: [UInt8], _ format: Format) -> Bool {
    body.withUnsafeBytes { raw in
        var line = ExpositionSample()
        var text = TextParser(raw)
        var om = OpenMetricsParser(raw, skipCreatedSeries: true)
        var count = 0
        do throws(ExpositionError) {
            while try (format == .text ? text.next(&line) : om.next(&line)) {
                count += 1
                for r in [line.series, line.name, line.labels] {
                    #expect(r.lowerBound >= 0 && r.upperBound <= raw.count)
                }
                #expect(line.labels.lowerBound >= line.series.lowerBound)
                LabelPairs.forEach(in: raw, range: line.labels) { _, _ in }
                _ = LabelPairs.metricName(in: raw, line)
                if let e = line.exemplar { LabelPairs.forEach(in: raw, range: e.labels) { _, _ in } }
                // A line holds at least a name and a value: samples never outnumber bytes.
                #expect(count <= raw.count)
            }
            return true
        } catch {
            #expect(error.line >= 1)
            return false
        }
    }
}

/// One random edit drawn from what breaks parsers: bytes flipped, grammar bytes inserted, spans
/// deleted, duplicated or swapped, truncation.
func mutate(_ body: inout [UInt8], _ rng: inout SplitMix64) {
    let grammar = Array("{}\",=#\\ \n\t.eE+-_:0123456789naNIf\u{7F}".utf8) + [0xC3, 0x80, 0xFF, 0x00, 0x0D]
    guard !body.isEmpty else {
        body = [grammar[Int(rng.next() % UInt64(grammar.count))]]
        return
    }
    let at = Int(rng.next() % UInt64(body.count))
    switch rng.next() % 6 {
    case 0: body[at] = UInt8(truncatingIfNeeded: rng.next())
    case 1: body.insert(grammar[Int(rng.next() % UInt64(grammar.count))], at: at)
    case 2: body.removeSubrange(at..<min(body.count, at + 1 + Int(rng.next() % 16)))
    case 3:
        let span = Array(body[at..<min(body.count, at + 1 + Int(rng.next() % 64))])
        body.insert(contentsOf: span, at: Int(rng.next() % UInt64(body.count)))
    case 4: body.removeSubrange(at...)
    default: body[at] = grammar[Int(rng.next() % UInt64(grammar.count))]
    }
}
