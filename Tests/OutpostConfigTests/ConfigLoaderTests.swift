import OutpostConfig
import Testing

func loadError(_ yaml: String) -> ConfigError? {
    do {
        _ = try ConfigLoader.parse(yaml: yaml, file: "test.yaml")
        return nil
    } catch {
        return error
    }
}

@Suite struct ConfigLoaderTests {
    @Test func appliesPrometheusDefaults() throws {
        let config = try ConfigLoader.parse(
            yaml: """
                scrape_configs:
                  - job_name: node
                    static_configs:
                      - targets: ["a:9100"]
                remote_write:
                  - url: http://r:9090/api/v1/write
                """, file: "test.yaml")
        let job = try #require(config.scrapeConfigs.first)
        #expect(job.scrapeInterval == .seconds(60))
        #expect(job.scrapeTimeout == .seconds(10))
        #expect(job.metricsPath == "/metrics")
        #expect(job.scheme == "http")
        #expect(job.honorLabels == false)
        #expect(job.honorTimestamps == true)
        let rw = try #require(config.remoteWrite.first)
        #expect(rw.remoteTimeout == .seconds(30))
        #expect(rw.queueConfig.capacity == 10_000)
        #expect(rw.queueConfig.maxSamplesPerSend == 2_000)
        #expect(rw.queueConfig.batchSendDeadline == .seconds(5))
        #expect(rw.queueConfig.minBackoff == .milliseconds(30))
        #expect(rw.queueConfig.maxBackoff == .seconds(5))
        #expect(rw.name.count == 6)
    }

    @Test func readsEveryFoundationField() throws {
        let config = try ConfigLoader.parse(
            yaml: """
                global:
                  scrape_interval: 15s
                  scrape_timeout: 5s
                  external_labels: {cluster: c1, region: eu}
                scrape_configs:
                  - job_name: ksm
                    scrape_interval: 1m30s
                    scrape_timeout: 20s
                    metrics_path: /m
                    scheme: https
                    honor_labels: true
                    honor_timestamps: false
                    params:
                      module: [http_2xx]
                    static_configs:
                      - targets: [x:1, y:2]
                        labels: {team: a}
                  - job_name: inherits
                remote_write:
                  - url: https://r/api/v1/write
                    name: primary
                    remote_timeout: 10s
                    headers: {X-Scope-OrgID: tenant}
                    queue_config:
                      capacity: 500
                      max_shards: 4
                      min_shards: 2
                      max_samples_per_send: 100
                      batch_send_deadline: 2s
                      min_backoff: 100ms
                      max_backoff: 10s
                """, file: "test.yaml")
        #expect(config.global.externalLabels.pairs.map(\.name) == ["cluster", "region"])
        let ksm = config.scrapeConfigs[0]
        #expect(ksm.scrapeInterval == .seconds(90))
        #expect(ksm.scrapeTimeout == .seconds(20))
        #expect(ksm.metricsPath == "/m")
        #expect(ksm.scheme == "https")
        #expect(ksm.honorLabels && !ksm.honorTimestamps)
        #expect(ksm.params.first?.name == "module" && ksm.params.first?.values == ["http_2xx"])
        #expect(ksm.staticConfigs.first?.targets == ["x:1", "y:2"])
        #expect(ksm.staticConfigs.first?.labels.first?.0 == "team")
        let inherits = config.scrapeConfigs[1]
        #expect(inherits.scrapeInterval == .seconds(15))
        #expect(inherits.scrapeTimeout == .seconds(5))
        let rw = config.remoteWrite[0]
        #expect(rw.name == "primary")
        #expect(rw.remoteTimeout == .seconds(10))
        #expect(rw.headers.first?.0 == "X-Scope-OrgID")
        #expect(rw.queueConfig.capacity == 500 && rw.queueConfig.maxShards == 4 && rw.queueConfig.minShards == 2)
        #expect(rw.queueConfig.maxSamplesPerSend == 100)
        #expect(rw.queueConfig.batchSendDeadline == .seconds(2))
        #expect(rw.queueConfig.minBackoff == .milliseconds(100) && rw.queueConfig.maxBackoff == .seconds(10))
    }

    @Test func jobTimeoutDefaultsToIntervalWhenShorter() throws {
        let config = try ConfigLoader.parse(
            yaml: "scrape_configs:\n  - job_name: fast\n    scrape_interval: 2s\n", file: "t.yaml")
        #expect(config.scrapeConfigs[0].scrapeTimeout == .seconds(2))
    }

    @Test(arguments: [
        ("global:\n  scrape_intervall: 1m\n", 2, "field scrape_intervall not found"),
        ("scrape_configs:\n  - job_name: a\n    static_config: []\n", 3, "field static_config not found"),
        ("scrape_configs:\n  - job_name: a\n    scrape_interval: 10x\n", 3, "not a valid duration"),
        ("scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n", 4,
         "scrape timeout greater than scrape interval"),
        ("scrape_configs:\n  - job_name: a\n  - job_name: a\n", 1, "multiple scrape configs with job name \"a\""),
        ("scrape_configs:\n  - scrape_interval: 1s\n", 2, "job_name is required"),
        ("remote_write:\n  - url: ftp://x\n", 2, "must be an http:// or https:// URL"),
        ("remote_write:\n  - url: http://x/w\n    queue_config:\n      capacityy: 1\n", 4, "field capacityy not found"),
        ("remote_write:\n  - url: http://x/w\n    headers:\n      Authorization: x\n", 3, "reserved header"),
        ("global:\n  external_labels:\n    bad-name: x\n", 2, "not a valid label name"),
        ("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [\"http://a:1\"]\n", 4,
         "not a valid address"),
        ("global: [\n", 2, "invalid YAML"),
        ("scrape_configs:\n  - job_name: a\n    honor_labels: maybe\n", 3, "must be true or false"),
    ])
    func rejectsWithFileAndLine(yaml: String, line: Int, message: String) {
        let error = loadError(yaml)
        #expect(error?.file == "test.yaml")
        #expect(error?.line == line, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("test.yaml:\(line): ") == true)
    }

    @Test(arguments: [
        ("0", 0), ("1ms", 1), ("30s", 30_000), ("1m30s", 90_000), ("1h", 3_600_000), ("2d", 172_800_000),
        ("1w", 604_800_000), ("1y", 31_536_000_000), ("1h30m15s500ms", 5_415_500),
    ])
    func parsesDurations(text: String, milliseconds: Int64) {
        #expect(PromDuration.parse(text) == .milliseconds(milliseconds))
    }

    @Test(arguments: ["", "1", "1s1m", "5x", "-1s", "1.5s", "s", "1m1m"])
    func rejectsDurations(text: String) {
        #expect(PromDuration.parse(text) == nil)
    }

    @Test(arguments: [("1m30s", 90_000), ("5s", 5_000), ("250ms", 250), ("1h", 3_600_000), ("2w", 1_209_600_000)])
    func formatsDurationsAsPrometheus(text: String, milliseconds: Int64) {
        #expect(PromDuration.format(.milliseconds(milliseconds)) == text)
    }

    @Test func emptyFileIsAnEmptyConfiguration() throws {
        let config = try ConfigLoader.parse(yaml: "", file: "e.yaml")
        #expect(config.scrapeConfigs.isEmpty && config.remoteWrite.isEmpty)
    }
}

@Suite struct RelabelConfigTests {
    @Test func parsesRulesWithDefaultsAndEveryField() throws {
        let config = try ConfigLoader.parse(
            yaml: """
                scrape_configs:
                  - job_name: a
                    sample_limit: 100
                    label_limit: 30
                    label_name_length_limit: 200
                    label_value_length_limit: 300
                    target_limit: 5
                    keep_dropped_targets: 10
                    track_timestamps_staleness: true
                    relabel_configs:
                      - source_labels: [__meta_x, __meta_y]
                        separator: ","
                        regex: "(.+),(.+)"
                        target_label: xy
                        replacement: "$2-$1"
                      - action: HashMod
                        source_labels: [__address__]
                        modulus: 4
                        target_label: shard
                    metric_relabel_configs:
                      - action: labeldrop
                        regex: tmp_.*
                remote_write:
                  - url: http://r/w
                    write_relabel_configs:
                      - action: drop
                        source_labels: [__name__]
                        regex: go_.*
                """, file: "t.yaml")
        let job = config.scrapeConfigs[0]
        #expect(job.sampleLimit == 100 && job.labelLimit == 30 && job.labelNameLengthLimit == 200)
        #expect(job.labelValueLengthLimit == 300 && job.targetLimit == 5 && job.keepDroppedTargets == 10)
        #expect(job.trackTimestampsStaleness)
        #expect(job.relabelConfigs.count == 2)
        #expect(job.relabelConfigs[0].action == .replace)
        #expect(job.relabelConfigs[0].separator == ",")
        #expect(job.relabelConfigs[0].replacement == "$2-$1")
        #expect(job.relabelConfigs[1].action == .hashmod && job.relabelConfigs[1].modulus == 4)
        #expect(job.metricRelabelConfigs.first?.action == .labeldrop)
        #expect(job.metricRelabelConfigs.first?.regex.source == "tmp_.*")
        #expect(config.remoteWrite[0].writeRelabelConfigs.first?.action == .drop)
    }

    @Test(arguments: [
        ("      - action: explode\n", 5, "unknown relabel action \"explode\""),
        ("      - action: hashmod\n        target_label: s\n", 5, "requires non-zero modulus"),
        ("      - source_labels: [a]\n        regex: \"(\"\n        target_label: b\n", 6, "error parsing regexp"),
        ("      - source_labels: [a]\n        target_label: bad-name\n", 6, "invalid 'target_label'"),
        ("      - source_labels: [a]\n        taget_label: b\n", 6, "field taget_label not found"),
        ("      - source_labels: [a-b]\n        target_label: b\n", 5, "not a valid label name"),
    ])
    func rejectsBadRulesAtTheirLine(rule: String, line: Int, message: String) {
        let yaml = "scrape_configs:\n  - job_name: a\n    static_configs: []\n    relabel_configs:\n" + rule
        let error = loadError(yaml)
        #expect(error?.line == line, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        #expect(error?.message.contains("scrape_configs[0].relabel_configs[0]") == true)
    }
}
