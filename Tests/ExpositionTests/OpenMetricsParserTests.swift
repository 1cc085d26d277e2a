import OutpostModel
import Exposition
import Testing

@Suite struct OpenMetricsParserTests {
    @Test func parsesEveryFamilyTypeWithUnitsExemplarsAndSecondTimestamps() throws {
        let body = """
            # TYPE acme_http_router_request_seconds summary
            # UNIT acme_http_router_request_seconds seconds
            # HELP acme_http_router_request_seconds Latency through all of ACME's routers.
            acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
            acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0
            acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
            # TYPE go_goroutines gauge
            go_goroutines 69
            # TYPE process_cpu_seconds counter
            # UNIT process_cpu_seconds seconds
            process_cpu_seconds_total 4.20072246e+06
            # TYPE build info
            build_info{version="1.2.3",revision="abc"} 1
            # TYPE door stateset
            door{door="open"} 1
            door{door="closed"} 0
            # TYPE queue_wait gaugehistogram
            queue_wait_bucket{le="0.5"} 3
            queue_wait_bucket{le="+Inf"} 5
            queue_wait_gcount 5
            queue_wait_gsum 1.25
            # TYPE rpc_seconds histogram
            rpc_seconds_bucket{le="0.1"} 8 # {trace_id="KOO5S4vxi0o"} 0.067 1600000000.123
            rpc_seconds_bucket{le="+Inf"} 9 # {trace_id="oHg5SJYRHA0"} 9.8
            rpc_seconds_count 9 1600000000.5
            rpc_seconds_sum 12.5
            # TYPE mystery unknown
            mystery{"odd.label"="x"} NaN
            # EOF
            """
        let got = try parse(body, .openMetrics)
        #expect(got.count == 17)
        #expect(got[0] == sample("acme_http_router_request_seconds_sum", ["path": "/api/v1", "method": "GET"], 9036.32))
        #expect(got[0].type == .summary)
        // Prometheus keeps `_created` lines as series unless its created-timestamp feature is on.
        #expect(got[2].name == "acme_http_router_request_seconds_created")
        #expect(got[2].value == 1_605_281_325)
        #expect(got[4] == sample("process_cpu_seconds_total", 4.20072246e+06))
        #expect(got[4].type == .counter)
        #expect(got[5].type == .info)
        #expect(got[6].type == .stateset)
        #expect(got[8].type == .gaugeHistogram)
        #expect(got[12] == sample("rpc_seconds_bucket", ["le": "0.1"], 8, exemplar: "{trace_id=KOO5S4vxi0o} 0.067 1600000000123"))
        #expect(got[13].exemplar == "{trace_id=oHg5SJYRHA0} 9.8")
        #expect(got[14] == sample("rpc_seconds_count", 9, 1_600_000_000_500))
        #expect(got[16] == sample("mystery", ["odd.label": "x"], .nan))
    }

    @Test func createdSeriesCanBeSkippedLikePrometheusWithCreatedTimestamps() throws {
        let body = "# TYPE c counter\nc_total 1\nc_created 5\n# TYPE g gauge\ng_created 2\n# EOF\n"
        let names = try Array(body.utf8).withUnsafeBytes { raw in
            var p = OpenMetricsParser(raw, skipCreatedSeries: true)
            return try drain(&p, raw).map(\.name)
        }
        // Only counter, summary and histogram families have created timestamps.
        #expect(names == ["c_total", "g_created"])
    }

    @Test(arguments: [
        ("m 1\n# EOF", [sample("m", 1)]),
        ("m{} 1\n# EOF\n", [sample("m", 1)]),
        ("m{a=\"1\",} 1\n# EOF\n", [sample("m", ["a": "1"], 1)]),
        ("{\"my.metric\",\"l.n\"=\"v\"} 2 -1.5\n# EOF\n", [sample("my.metric", ["l.n": "v"], 2, -1500)]),
        ("m 1 1.0009\n# EOF\n", [sample("m", 1, 1000)]),
        ("m +inf\nn -Inf\n# EOF\n", [sample("m", .infinity), sample("n", -.infinity)]),
        ("# HELP m \n# UNIT m \nm 1\n# EOF\n", [sample("m", 1)]),
        ("# TYPE m_seconds gauge\n# UNIT m_seconds seconds\nm_seconds 1\n# EOF\n", [sample("m_seconds", 1)]),
        ("m{v=\"a\\\\b\\\"c\\nd\"} 1\n# EOF\n", [sample("m", ["v": "a\\b\"c\nd"], 1)]),
    ] as [(String, [Parsed])])
    func accepts(text: String, expected: [Parsed]) throws {
        #expect(try parse(text, .openMetrics) == expected)
    }

    @Test(arguments: [
        ("m 1\n", 2, "data does not end with # EOF"),
        ("m 1", 1, "expected end of line"),
        ("m 1\n# EOF\n\n", 3, "unexpected data after # EOF"),
        ("m 1\n# EOF\nm 2\n", 3, "unexpected data after # EOF"),
        ("m 1\n\nn 2\n# EOF\n", 2, "expected a valid start token"),
        ("# a comment\n# EOF\n", 1, "expected HELP, TYPE, UNIT or EOF"),
        ("#  TYPE m gauge\n# EOF\n", 1, "expected HELP, TYPE, UNIT or EOF"),
        ("# TYPE m untyped\n# EOF\n", 1, "invalid metric type"),
        ("# TYPE m counter \n# EOF\n", 1, "invalid metric type"),
        ("# TYPE m\n# EOF\n", 1, "expected text in TYPE"),
        ("# HELP m\n# EOF\n", 1, "expected text in HELP"),
        ("# UNIT m_bytes seconds\n# EOF\n", 1, "not a suffix of metric"),
        ("m  1\n# EOF\n", 1, "expected value"),
        ("m 1 \n# EOF\n", 1, "invalid timestamp"),
        ("m\t1\n# EOF\n", 1, "expected value after metric"),
        ("m {a=\"1\"} 1\n# EOF\n", 1, "invalid value"),
        ("m{a=\"1\" } 1\n# EOF\n", 1, "expected comma or brace close"),
        ("m{,a=\"1\"} 1\n# EOF\n", 1, "expected label name"),
        ("{a=\"1\"} 1\n# EOF\n", 1, "metric name not set"),
        ("m 1 NaN\n# EOF\n", 1, "invalid timestamp"),
        ("m 1 # {a=\"b\"}\n# EOF\n", 1, "expected exemplar value"),
        ("m 1 # {a=\"b\"} 1 Inf\n# EOF\n", 1, "invalid exemplar timestamp"),
        ("m 1 # a\n# EOF\n", 1, "expected exemplar"),
        ("m 1_0\n# EOF\n", 1, "invalid value"),
    ])
    func rejects(text: String, line: Int, message: String) {
        let error = parseError(text, .openMetrics)
        #expect(error?.line == line, "got \(String(describing: error))")
        #expect(error?.message.contains(message) == true, "got \(String(describing: error))")
    }

    @Test func helpMustBeValidUTF8() {
        var bytes = Array("# HELP m bad ".utf8) + [0xC3, 0x28] + Array("\n# EOF\n".utf8)
        let error = bytes.withUnsafeMutableBytes { raw -> ExpositionError? in
            var p = OpenMetricsParser(UnsafeRawBufferPointer(raw))
            var s = ExpositionSample()
            do throws(ExpositionError) {
                _ = try p.next(&s)
                return nil
            } catch {
                return error
            }
        }
        #expect(error?.message.contains("is not a valid utf8 string") == true)
        bytes.removeAll()
    }
}
