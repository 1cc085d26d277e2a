import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The formats end to end: targets serving OpenMetrics (with exemplars), gzip, no Content-Type, an
/// oversized body and a broken body are scraped by the real binary; what arrives in a real
/// Prometheus is checked by query, and the failures by `/api/v1/targets`.
@Suite(.serialized, .tags(.endToEnd)) struct ExpositionEndToEndTests {
    static let openMetricsBody = """
        # HELP rpc_seconds Time spent in RPCs.
        # TYPE rpc_seconds histogram
        # UNIT rpc_seconds seconds
        rpc_seconds_bucket{le="0.25"} 3 # {trace_id="4bf92f3577b34da6"} 0.12 1700000000.5
        rpc_seconds_bucket{le="1"} 8 # {trace_id="00f067aa0ba902b7"} 0.7
        rpc_seconds_bucket{le="+Inf"} 9
        rpc_seconds_sum 5.5
        rpc_seconds_count 9
        rpc_seconds_created 1700000000.25
        # TYPE jobs_done counter
        jobs_done_total{queue="a"} 17 # {trace_id="abc"} 1
        jobs_done_created{queue="a"} 1700000000
        # TYPE latency summary
        latency{quantile="0.5"} 0.03
        latency_count 4
        latency_sum 0.4
        # TYPE door stateset
        door{door="open"} 1
        door{door="closed"} 0
        # TYPE build info
        build_info{version="1.2.3"} 1
        # TYPE queue_wait gaugehistogram
        queue_wait_bucket{le="+Inf"} 5
        queue_wait_gcount 5
        queue_wait_gsum 2
        # EOF

        """

    @Test func formatsCompressionAndLimitsAgainstARealReceiver() async throws {
        let dir = Harness.tempDir("exposition")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let om = try TestTarget(
            text: Self.openMetricsBody, headers: [TestTarget.openMetricsHeader])
        let gz = try TestTarget(
            body: try gzipped("# TYPE gz_metric gauge\ngz_metric{kind=\"compressed\"} 42\n"),
            headers: ["Content-Type: text/plain; version=0.0.4", "Content-Encoding: gzip"])
        let plain = try TestTarget(text: "plain_metric 7\n", headers: [])
        let big = try TestTarget(
            text: (0..<200).map { "big_metric{i=\"\($0)\"} \($0)\n" }.joined(), headers: ["Content-Type: text/plain"])
        let broken = try TestTarget(text: "ok 1\n", headers: ["Content-Type: application/openmetrics-text"])
        defer { for t in [om, gz, plain, big, broken] { t.stop() } }

        let promPort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let receiver = try PrometheusReceiver(port: promPort, dir: dir)
        let prometheus = try receiver.start(logDir: dir)
        func job(_ name: String, _ target: TestTarget, _ extra: String = "") -> String {
            """
              - job_name: \(name)
                static_configs:
                  - targets: ["127.0.0.1:\(target.port)"]
            \(extra)
            """
        }
        let config = """
            global:
              scrape_interval: 1s
            scrape_configs:
            \(job("om", om))
            \(job("gz", gz))
            \(job("plain", plain))
            \(job("big", big, "    body_size_limit: 1KB"))
            \(job("broken", broken))
            remote_write:
              - url: http://127.0.0.1:\(promPort)/api/v1/write
                queue_config:
                  batch_send_deadline: 500ms
            """
        try config.write(toFile: dir + "/outpost.yaml", atomically: true, encoding: .utf8)
        let outpost = try ChildProcess(
            "outpost", Harness.outpostBinary,
            [
                "--config.file=\(dir)/outpost.yaml", "--storage.agent.path=\(dir)/data",
                "--web.listen-address=127.0.0.1:\(outpostPort)",
            ], logDir: dir)
        defer { for p in [outpost, prometheus] where p.isRunning { kill(p.pid, SIGKILL) } }

        try await outpost.showingLogOnFailure {
            // OpenMetrics: every family arrives; bucket bounds are spelled as floats, as Prometheus
            // 3 spells them; `_created` lines are series, as in Prometheus without its
            // created-timestamp feature; exemplars do not disturb their samples.
            let bucket = try await Harness.eventually("OpenMetrics bucket in Prometheus") {
                receiver.query("rpc_seconds_bucket{job=\"om\",le=\"1.0\"}")?.first?.value
            }
            #expect(bucket == 8)
            let expected: [(String, Double)] = [
                ("rpc_seconds_bucket{le=\"0.25\"}", 3), ("rpc_seconds_bucket{le=\"+Inf\"}", 9), ("rpc_seconds_sum", 5.5),
                ("rpc_seconds_count", 9), ("rpc_seconds_created", 1_700_000_000.25), ("jobs_done_total{queue=\"a\"}", 17),
                ("jobs_done_created", 1_700_000_000), ("latency{quantile=\"0.5\"}", 0.03), ("latency_count", 4),
                ("door{door=\"closed\"}", 0), ("build_info{version=\"1.2.3\"}", 1), ("queue_wait_gcount", 5),
                ("queue_wait_bucket{le=\"+Inf\"}", 5),
            ]
            for (selector, value) in expected {
                let got = try await Harness.eventually(selector) { receiver.query(selector)?.first?.value }
                #expect(got == value, "\(selector)")
            }
            let omSeries = try #require(receiver.query("count({job=\"om\",__name__!~\"up|scrape_.*\"})")?.first?.value)
            #expect(omSeries == 17)
            // The request offered what Prometheus 3 offers.
            let request = om.lastRequest.lowercased()
            #expect(
                request.contains(
                    "accept: application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
                        + "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
                        + "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"), "\(request)")
            #expect(request.contains("accept-encoding: gzip"))

            // gzip is decompressed; a missing Content-Type falls back to the text format.
            let gzValue = try await Harness.eventually("gzip target in Prometheus") {
                receiver.query("gz_metric{job=\"gz\",kind=\"compressed\"}")?.first?.value
            }
            #expect(gzValue == 42)
            let plainValue = try await Harness.eventually("target without Content-Type in Prometheus") {
                receiver.query("plain_metric{job=\"plain\"}")?.first?.value
            }
            #expect(plainValue == 7)

            // Over body_size_limit, and OpenMetrics without # EOF: down, with the reason, nothing kept.
            let bigUp = try await Harness.eventually("up for the oversized target") {
                receiver.query("up{job=\"big\"}")?.first?.value
            }
            #expect(bigUp == 0)
            let brokenUp = try await Harness.eventually("up for the broken target") {
                receiver.query("up{job=\"broken\"}")?.first?.value
            }
            #expect(brokenUp == 0)
            #expect(receiver.query("big_metric")?.isEmpty == true)
            #expect(receiver.query("ok{job=\"broken\"}")?.isEmpty == true)
            let targets = try #require(Harness.get(port: outpostPort, path: "/api/v1/targets")?.body)
            #expect(targets.contains("body size limit exceeded"))
            #expect(targets.contains("line 2: data does not end with # EOF"))
            let metrics = try #require(Harness.get(port: outpostPort, path: "/metrics")?.body)
            #expect(metrics.contains("prometheus_target_scrapes_exceeded_body_size_limit_total"))
        }
    }
}
