import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Relabeling and scrape options checked against Prometheus itself: a real Prometheus runs the same
/// scrape configuration as Outpost (the oracle), and what it stores must equal what Outpost
/// delivered to a second Prometheus acting as the remote-write receiver.
@Suite(.serialized, .tags(.endToEnd)) struct RelabelEndToEndTests {
    static let exposition = """
        # TYPE app_requests_total counter
        app_requests_total{code="200",job="exposed",instance="exposed-i",path="/a"} 10
        app_requests_total{code="404",job="exposed",instance="exposed-i",path="/b"} 2
        app_debug_info{tmp_x="1",keep="k"} 1
        app_drop_me 5

        """

    /// The scrape jobs both Prometheus and Outpost run (only fields Prometheus 2.42 also knows).
    static func scrapeConfigs(target: String) -> String {
        """
        scrape_configs:
          - job_name: nohonor
            static_configs:
              - targets: ["\(target)"]
                labels: {zone: eu-1}
            relabel_configs:
              - source_labels: [zone]
                regex: "([a-z]+)-(\\\\d)"
                target_label: region
                replacement: "${1}_$2"
              - source_labels: [__address__]
                action: hashmod
                modulus: 8
                target_label: shard
            metric_relabel_configs: &metric
              - source_labels: [__name__]
                action: drop
                regex: app_drop_me
              - action: labeldrop
                regex: tmp_.*
              - source_labels: [code]
                regex: "(\\\\d).."
                target_label: class
                replacement: "${1}xx"
              - source_labels: [__name__, path]
                separator: "@"
                regex: "app_requests_total@(.*)"
                target_label: route
                action: replace
          - job_name: honor
            honor_labels: true
            static_configs:
              - targets: ["\(target)"]
            metric_relabel_configs: *metric
          - job_name: limited
            sample_limit: 3
            static_configs:
              - targets: ["\(target)"]
          - job_name: labellimit
            label_limit: 4
            static_configs:
              - targets: ["\(target)"]
          - job_name: namelimit
            label_name_length_limit: 7
            static_configs:
              - targets: ["\(target)"]
          - job_name: valuelimit
            label_value_length_limit: 8
            honor_labels: true
            static_configs:
              - targets: ["\(target)"]
          - job_name: targetlimit
            target_limit: 1
            static_configs:
              - targets: ["\(target)", "localhost:\(target.split(separator: ":").last ?? "")"]
        """
    }

    @Test func metricRelabelingHonorLabelsAndLimitsMatchPrometheus() async throws {
        let dir = Harness.tempDir("relabel")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/textfile", withIntermediateDirectories: true)
        try Self.exposition.write(toFile: dir + "/textfile/app.prom", atomically: true, encoding: .utf8)
        let targetPort = Harness.freePort()
        let oraclePort = Harness.freePort()
        let receiverPort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let exporter = try ChildProcess(
            "textfile_exporter", "/usr/bin/prometheus-node-exporter",
            [
                "--web.listen-address=127.0.0.1:\(targetPort)", "--collector.disable-defaults", "--collector.textfile",
                "--collector.textfile.directory=\(dir)/textfile", "--web.disable-exporter-metrics",
            ], logDir: dir)
        let scrape = Self.scrapeConfigs(target: "127.0.0.1:\(targetPort)")
        try ("global:\n  scrape_interval: 1s\n" + scrape).write(
            toFile: dir + "/oracle.yml", atomically: true, encoding: .utf8)
        let oracle = try ChildProcess(
            "oracle", "/usr/bin/prometheus",
            [
                "--config.file=\(dir)/oracle.yml", "--storage.tsdb.path=\(dir)/oracle-data",
                "--web.listen-address=127.0.0.1:\(oraclePort)",
            ], logDir: dir)
        let receiver = try PrometheusReceiver(port: receiverPort, dir: dir)
        let receiverProcess = try receiver.start(logDir: dir)
        let outpostConfig = "global:\n  scrape_interval: 1s\n" + scrape + """

            remote_write:
              - url: http://127.0.0.1:\(receiverPort)/api/v1/write
                queue_config: {batch_send_deadline: 500ms}
                write_relabel_configs:
                  - source_labels: [__name__]
                    regex: "node_textfile_.*"
                    action: drop
                  - target_label: forwarded
                    replacement: "yes"
            """
        try outpostConfig.write(toFile: dir + "/outpost.yaml", atomically: true, encoding: .utf8)
        let outpost = try ChildProcess(
            "outpost", Harness.outpostBinary,
            [
                "--config.file=\(dir)/outpost.yaml", "--storage.agent.path=\(dir)/outpost-data",
                "--web.listen-address=127.0.0.1:\(outpostPort)",
            ], logDir: dir)
        let oracleDB = PrometheusReceiver(port: oraclePort, dataDir: "", configPath: "")
        defer {
            for p in [outpost, exporter, oracle, receiverProcess] where p.isRunning { kill(p.pid, SIGKILL) }
        }
        try await outpost.showingLogOnFailure {
            // Both sides have every job's app series (or, for the limited job, up == 0).
            for side in [oracleDB, receiver] {
                _ = try await Harness.eventually("app series for both jobs on \(side.port)") {
                    (side.query("count by (job) (app_requests_total)")?.count ?? 0) >= 2 ? true : nil
                }
                _ = try await Harness.eventually("limited job down on \(side.port)") {
                    side.query("up{job=\"limited\"} == 0")?.first
                }
            }
            func labelSets(_ side: PrometheusReceiver, _ selector: String, dropping: Set<String>) -> Set<[String: String]> {
                Set((side.query(selector) ?? []).map { $0.labels.filter { !dropping.contains($0.key) } })
            }
            let selector = "{__name__=~\"app_.*\"}"
            let fromOracle = labelSets(oracleDB, selector, dropping: [])
            let fromOutpost = labelSets(receiver, selector, dropping: ["forwarded"])
            #expect(!fromOracle.isEmpty)
            #expect(fromOutpost == fromOracle, "oracle: \(fromOracle.sorted { $0.description < $1.description })")

            // The concrete outcome, spelled out.
            let nohonor = labelSets(receiver, "app_requests_total{job=\"nohonor\",code=\"404\"}", dropping: [])
            #expect(nohonor.first?["exported_job"] == "exposed")
            #expect(nohonor.first?["exported_instance"] == "exposed-i")
            #expect(nohonor.first?["instance"] == "127.0.0.1:\(targetPort)")
            #expect(nohonor.first?["class"] == "4xx")
            #expect(nohonor.first?["route"] == "/b")
            #expect(nohonor.first?["region"] == "eu_1")
            #expect(nohonor.first?["forwarded"] == "yes")
            let honor = labelSets(receiver, "app_requests_total{job=\"exposed\",code=\"200\"}", dropping: [])
            #expect(honor.first?["instance"] == "exposed-i")
            #expect(receiver.query("app_drop_me")?.isEmpty == true)
            #expect(receiver.query("app_debug_info{tmp_x!=\"\"}")?.isEmpty == true)
            #expect(receiver.query("app_debug_info{keep=\"k\"}")?.count == 2)
            // Write relabeling: what Prometheus stores, Outpost did not forward.
            #expect((oracleDB.query("node_textfile_scrape_error")?.count ?? 0) == 2)  // nohonor and honor; limited failed
            #expect(receiver.query("node_textfile_scrape_error")?.isEmpty == true)
            #expect(receiver.query("{__name__=~\".+\",forwarded!=\"yes\"}")?.isEmpty == true)
            // hashmod: the same shard as Prometheus computed.
            let oracleShard = oracleDB.query("up{job=\"nohonor\"}")?.first?.labels["shard"]
            #expect(oracleShard != nil)
            #expect(receiver.query("up{job=\"nohonor\"}")?.first?.labels["shard"] == oracleShard)
            // Every limit fails the scrape on both sides: up is 0 and no app series arrive.
            for job in ["limited", "labellimit", "namelimit", "valuelimit", "targetlimit"] {
                // Targets start at different moments: wait until both sides have reported every target.
                let (oracleUp, outpostUp) = try await Harness.eventually("\(job) up on both sides") {
                    () -> ([Double], [Double])? in
                    guard let o = oracleDB.query("up{job=\"\(job)\"}")?.map(\.value),
                        let p = receiver.query("up{job=\"\(job)\"}")?.map(\.value),
                        !o.isEmpty, o.count == p.count, o.count == (job == "targetlimit" ? 2 : 1)
                    else { return nil }
                    return (o, p)
                }
                #expect(oracleUp.allSatisfy { $0 == 0 }, "\(job)")
                #expect(outpostUp == oracleUp, "\(job)")
                #expect(receiver.query("app_requests_total{job=\"\(job)\"}")?.isEmpty == true, "\(job)")
            }
            let targets = Harness.get(port: outpostPort, path: "/api/v1/targets")?.body ?? ""
            #expect(targets.contains("sample limit exceeded"))
            #expect(targets.contains("label_limit exceeded"))
            #expect(targets.contains("label_name_length_limit exceeded"))
            #expect(targets.contains("label_value_length_limit exceeded"))
            #expect(targets.contains("target_limit exceeded (number of targets: 2, limit: 1)"))
        }
    }

    /// Target relabeling (every action) against Prometheus' own `/api/v1/targets`: the final labels of
    /// every active target and the discovered labels of every dropped one must be identical.
    @Test func targetRelabelingMatchesPrometheusTargetsAPI() async throws {
        let dir = Harness.tempDir("targets")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = """
            global:
              scrape_interval: 1m
            scrape_configs:
              - job_name: rules
                static_configs:
                  - targets: ["10.0.0.1:9100", "10.0.0.2:9100", "web-1.example:8080", "db-7.example:5432", "skip.example:1"]
                    labels: {__meta_team: SRE-Core, env: Prod, __meta_rack: r7}
                relabel_configs:
                  - source_labels: [__address__]
                    regex: "skip\\\\..*"
                    action: drop
                  - source_labels: [__address__]
                    action: hashmod
                    modulus: 13
                    target_label: shard
                  - source_labels: [__address__]
                    regex: "([a-z]+)-(\\\\d+)\\\\..*"
                    target_label: role
                    replacement: "$1"
                  - source_labels: [__address__]
                    regex: "([a-z]+)-(?P<num>\\\\d+)\\\\..*"
                    target_label: node_$1
                    replacement: "n${num}"
                  - action: labelmap
                    regex: "__meta_(.+)"
                    replacement: "meta_$1"
                  - source_labels: [meta_team]
                    action: lowercase
                    target_label: team
                  - source_labels: [env]
                    action: uppercase
                    target_label: env_upper
                  - source_labels: [env, meta_rack]
                    separator: "/"
                    target_label: placement
                  - source_labels: [__address__]
                    regex: "10\\\\.0\\\\.0\\\\.2:.*"
                    target_label: __metrics_path__
                    replacement: /custom
                  - action: labeldrop
                    regex: meta_rack
                  - source_labels: [shard]
                    target_label: shard_copy
                  - source_labels: [shard]
                    action: keepequal
                    target_label: shard_copy
                  - source_labels: [role]
                    regex: db
                    action: drop
              - job_name: keeper
                static_configs:
                  - targets: ["a.example:1", "b.example:2"]
                relabel_configs:
                  - source_labels: [__address__]
                    regex: "a\\\\..*"
                    action: keep
                  - action: labelkeep
                    regex: "__.*|job"
            """
        try config.write(toFile: dir + "/p.yml", atomically: true, encoding: .utf8)
        let promPort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let prometheus = try ChildProcess(
            "prometheus", "/usr/bin/prometheus",
            ["--config.file=\(dir)/p.yml", "--storage.tsdb.path=\(dir)/data", "--web.listen-address=127.0.0.1:\(promPort)"],
            logDir: dir)
        let outpost = try ChildProcess(
            "outpost", Harness.outpostBinary,
            ["--config.file=\(dir)/p.yml", "--storage.agent.path=\(dir)/op", "--web.listen-address=127.0.0.1:\(outpostPort)"],
            logDir: dir)
        defer {
            for p in [outpost, prometheus] where p.isRunning { kill(p.pid, SIGKILL) }
        }
        func targets(_ port: Int) -> (active: Set<[String: String]>, dropped: Set<[String: String]>)? {
            guard let (status, body) = Harness.get(port: port, path: "/api/v1/targets"), status == 200,
                let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let data = json["data"] as? [String: Any],
                let active = data["activeTargets"] as? [[String: Any]],
                let dropped = data["droppedTargets"] as? [[String: Any]]
            else { return nil }
            var activeSets = Set(active.compactMap { $0["labels"] as? [String: String] })
            activeSets = Set(activeSets.map { labels in
                var l = labels
                l["__url__"] = (active.first { ($0["labels"] as? [String: String]) == labels }?["scrapeUrl"] as? String)
                return l
            })
            return (activeSets, Set(dropped.compactMap { $0["discoveredLabels"] as? [String: String] }))
        }
        let expected = try await Harness.eventually("Prometheus lists its targets") { () -> (active: Set<[String: String]>, dropped: Set<[String: String]>)? in
            guard let t = targets(promPort), t.active.count == 4 else { return nil }
            return t
        }
        let got = try await Harness.eventually("Outpost lists its targets") { targets(outpostPort) }
        #expect(got.active == expected.active)
        #expect(got.dropped == expected.dropped)
        #expect(expected.dropped.count == 3)
    }
}
