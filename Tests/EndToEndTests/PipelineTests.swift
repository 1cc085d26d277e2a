import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Tag {
    @Tag static var endToEnd: Self
}

/// The whole pipeline against real peers: node_exporter targets, the `outpost` binary, and a
/// Prometheus remote-write receiver, all on 127.0.0.1. Assertions are PromQL queries against what
/// arrived in Prometheus.
@Suite(.serialized, .tags(.endToEnd)) struct PipelineTests {
    @Test func scrapesForwardsMarksStaleAndDeliversWhatWasBufferedDuringAnOutage() async throws {
        let dir = Harness.tempDir("pipeline")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let nodePort = Harness.freePort()
        let node2Port = Harness.freePort()
        let promPort = Harness.freePort()
        let outpostPort = Harness.freePort()

        let node = try ChildProcess(
            "node_exporter", "/usr/bin/prometheus-node-exporter",
            ["--web.listen-address=127.0.0.1:\(nodePort)"], logDir: dir)
        let node2 = try ChildProcess(
            "node_exporter2", "/usr/bin/prometheus-node-exporter",
            ["--web.listen-address=127.0.0.1:\(node2Port)"], logDir: dir)
        let receiver = try PrometheusReceiver(port: promPort, dir: dir)
        var prometheus = try receiver.start(logDir: dir)

        let config = """
            global:
              scrape_interval: 1s
              external_labels:
                cluster: e2e
            scrape_configs:
              - job_name: node
                static_configs:
                  - targets: ["127.0.0.1:\(nodePort)"]
              - job_name: doomed
                static_configs:
                  - targets: ["127.0.0.1:\(node2Port)"]
              - job_name: outpost
                static_configs:
                  - targets: ["127.0.0.1:\(outpostPort)"]
            remote_write:
              - name: prom
                url: http://127.0.0.1:\(promPort)/api/v1/write
                queue_config:
                  batch_send_deadline: 500ms
                  max_backoff: 1s
            """
        try config.write(toFile: dir + "/outpost.yaml", atomically: true, encoding: .utf8)
        let outpost = try ChildProcess(
            "outpost", Harness.outpostBinary,
            [
                "--config.file=\(dir)/outpost.yaml", "--storage.agent.path=\(dir)/outpost-data",
                "--web.listen-address=127.0.0.1:\(outpostPort)",
            ], logDir: dir)
        defer {
            for p in [outpost, node, node2, prometheus] where p.isRunning { kill(p.pid, SIGKILL) }
        }

        try await outpost.showingLogOnFailure {
            _ = try await Harness.eventually("outpost ready", timeout: .seconds(30)) {
                Harness.get(port: outpostPort, path: "/-/ready")?.status == 200 ? true : nil
            }

            // node_exporter's series arrive with job, instance and the external label.
            let load = try await Harness.eventually("node_load1 in Prometheus") {
                receiver.query("node_load1{job=\"node\"}")?.first
            }
            #expect(load.labels["instance"] == "127.0.0.1:\(nodePort)")
            #expect(load.labels["cluster"] == "e2e")
            let cpuSeries = try await Harness.eventually("node_cpu_seconds_total in Prometheus") {
                receiver.query("count(node_cpu_seconds_total{job=\"node\",cluster=\"e2e\"})")?.first?.value
            }
            #expect(cpuSeries >= 1)

            // up is 1 and the five synthetic series are there.
            let up = try await Harness.eventually("up for node") { receiver.query("up{job=\"node\"}")?.first?.value }
            #expect(up == 1)
            for name in [
                "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
                "scrape_series_added",
            ] {
                let v = try await Harness.eventually(name) { receiver.query("\(name){job=\"node\"}")?.first?.value }
                #expect(v >= 0, "\(name)")
            }
            let scraped = try #require(receiver.query("scrape_samples_scraped{job=\"node\"}")?.first?.value)
            #expect(scraped > 100)
            // Outpost scrapes itself, and its own remote-write counters arrive too.
            let sent = try await Harness.eventually("outpost's own remote-write counter above 0") { () -> Double? in
                let v = receiver.query("prometheus_remote_storage_samples_total{job=\"outpost\",remote_name=\"prom\"}")?
                    .first?.value
                return v.flatMap { $0 > 0 ? $0 : nil }
            }
            #expect(sent > 0)

            // A target that stops: up turns 0, and its series get staleness markers, so they vanish from
            // instant queries long before the 5m lookback would hide them.
            _ = try await Harness.eventually("doomed target scraped") {
                receiver.query("node_load1{job=\"doomed\"}")?.first
            }
            await node2.stop()
            let doomedUp = try await Harness.eventually("up 0 for the stopped target") {
                receiver.query("up{job=\"doomed\"} == 0")?.first?.value
            }
            #expect(doomedUp == 0)
            _ = try await Harness.eventually("stopped target's series stale", timeout: .seconds(30)) {
                receiver.query("node_load1{job=\"doomed\"}").flatMap { $0.isEmpty ? true : nil }
            }
            let status = try #require(Harness.get(port: outpostPort, path: "/status"))
            #expect(status.status == 200)
            #expect(status.body.contains("connection refused"))

            // An outage of the receiver: samples are kept in the WAL and arrive after it comes back.
            await prometheus.stop()
            let outageStart = Date().timeIntervalSince1970
            _ = try await Harness.eventually("outpost retrying while the receiver is down") { () -> Double? in
                guard let metrics = Harness.get(port: outpostPort, path: "/metrics")?.body else { return nil }
                let retried = metrics.split(separator: "\n").first {
                    $0.hasPrefix("prometheus_remote_storage_samples_retried_total{")
                }
                guard let retried, let v = Double(retried.split(separator: " ").last ?? ""), v > 0 else { return nil }
                return Date().timeIntervalSince1970 - outageStart >= 6 ? v : nil
            }
            let outageEnd = Date().timeIntervalSince1970
            prometheus = try receiver.start(logDir: dir)
            let window = Int(outageEnd - outageStart) - 1
            let expected = Double(window) - 2
            let count = try await Harness.eventually("samples from the outage delivered", timeout: .seconds(60)) {
                () -> Double? in
                guard let v = receiver.query("count_over_time(up{job=\"node\"}[\(window)s])", time: outageEnd)?.first?.value,
                    v >= expected
                else { return nil }
                return v
            }
            #expect(count >= expected)

            // SIGTERM stops Outpost cleanly and promptly.
            let clock = ContinuousClock()
            let before = clock.now
            let exit = await outpost.stop(timeout: .seconds(15))
            #expect(exit == 0)
            #expect(clock.now - before < .seconds(15))
            #expect(outpost.log().contains("WAL closed"))
        }
        await node.stop()
        await prometheus.stop()
    }
}

@Suite(.tags(.endToEnd)) struct CommandLineTests {
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let dir = Harness.tempDir("cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try ChildProcess("outpost", Harness.outpostBinary, arguments, logDir: dir)
        p.process.waitUntilExit()
        return (p.process.terminationStatus, p.log())
    }

    @Test func checkConfigAcceptsAValidFileAndNamesFileAndLineOfAnInvalidOne() throws {
        let dir = Harness.tempDir("check")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = dir + "/good.yaml"
        let bad = dir + "/bad.yaml"
        try "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [\"x:1\"]\n"
            .write(toFile: good, atomically: true, encoding: .utf8)
        try "global:\n  scrape_interval: 15s\n  scrape_intervl: 1m\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let ok = try run(["check", "config", good])
        #expect(ok.status == 0)
        #expect(ok.output.contains("SUCCESS"))
        let failed = try run(["check", "config", bad])
        #expect(failed.status == 1)
        #expect(failed.output.contains("\(bad):3: field scrape_intervl not found"))
    }

    @Test func agentRefusesToStartOnAnInvalidConfig() throws {
        let dir = Harness.tempDir("badstart")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "scrape_configs:\n  - job_name: a\n    scrape_interval: soon\n"
            .write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
        let r = try run(["--config.file=\(dir)/c.yaml", "--storage.agent.path=\(dir)/data", "--web.listen-address=127.0.0.1:0"])
        #expect(r.status == 1)
        #expect(r.output.contains("\(dir)/c.yaml:3:"))
        #expect(r.output.contains("not a valid duration"))
    }

    @Test func versionAndHelp() throws {
        let version = try run(["--version"])
        #expect(version.status == 0)
        #expect(version.output.contains("0.1.0"))
        let help = try run(["--help"])
        #expect(help.status == 0)
        #expect(help.output.contains("agent (default)"))
        let agentHelp = try run(["agent", "--help"])
        #expect(agentHelp.status == 0)
        #expect(agentHelp.output.contains("--config.file"))
        #expect(agentHelp.output.contains("--storage.agent.max-disk-bytes"))
    }
}
