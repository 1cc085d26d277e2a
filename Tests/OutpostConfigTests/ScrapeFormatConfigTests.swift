import OutpostConfig
import Testing

/// `scrape_protocols`, `fallback_scrape_protocol`, `body_size_limit`, `enable_compression` and the
/// name schemes: defaults, inheritance from `global`, and errors with file and line.
@Suite struct ScrapeFormatConfigTests {
    @Test func defaultsFollowPrometheus3() throws {
        let config = try ConfigLoader.parse(yaml: "scrape_configs:\n  - job_name: a\n", file: "t.yaml")
        let job = config.scrapeConfigs[0]
        #expect(job.scrapeProtocols == [.openMetricsText1_0_0, .openMetricsText0_0_1, .prometheusText1_0_0, .prometheusText0_0_4])
        #expect(job.fallbackScrapeProtocol == nil)
        #expect(job.bodySizeLimit == 0)
        #expect(job.enableCompression)
        #expect(job.nameValidation == .utf8)
        #expect(job.nameEscaping == "allow-utf-8")
    }

    @Test func jobsInheritGlobalSettingsAndMayOverrideThem() throws {
        let config = try ConfigLoader.parse(
            yaml: """
                global:
                  scrape_protocols: [PrometheusText0.0.4]
                  body_size_limit: 10MB
                  metric_name_validation_scheme: legacy
                scrape_configs:
                  - job_name: inherits
                  - job_name: overrides
                    scrape_protocols: [OpenMetricsText1.0.0, PrometheusText0.0.4]
                    fallback_scrape_protocol: OpenMetricsText1.0.0
                    body_size_limit: 1GB512MiB
                    enable_compression: false
                    metric_name_validation_scheme: utf8
                """, file: "t.yaml")
        let inherits = config.scrapeConfigs[0]
        #expect(inherits.scrapeProtocols == [.prometheusText0_0_4])
        #expect(inherits.bodySizeLimit == 10 << 20)
        #expect(inherits.nameValidation == .legacy)
        #expect(inherits.nameEscaping == "underscores")
        let overrides = config.scrapeConfigs[1]
        #expect(overrides.scrapeProtocols == [.openMetricsText1_0_0, .prometheusText0_0_4])
        #expect(overrides.fallbackScrapeProtocol == .openMetricsText1_0_0)
        #expect(overrides.bodySizeLimit == (1 << 30) + (512 << 20))
        #expect(overrides.enableCompression == false)
        #expect(overrides.nameValidation == .utf8)
        #expect(overrides.nameEscaping == "allow-utf-8")
        #expect(inherits.fingerprint != overrides.fingerprint)
    }

    @Test(arguments: [
        ("scrape_configs:\n  - job_name: a\n    scrape_protocols: [prometheustext0.0.4]\n", 3,
         "unknown scrape protocol prometheustext0.0.4, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0] for scrape config with job name \"a\""),
        ("global:\n  scrape_protocols: []\n", 2, "scrape_protocols cannot be empty"),
        ("global:\n  scrape_protocols: [PrometheusText0.0.4, PrometheusText0.0.4]\n", 2, "duplicated protocol"),
        ("global:\n  scrape_protocols: [PrometheusProto]\n", 2, "PrometheusProto is not supported"),
        ("scrape_configs:\n  - job_name: a\n    fallback_scrape_protocol: text\n", 3,
         "invalid fallback_scrape_protocol for scrape config with job name \"a\": unknown scrape protocol text"),
        ("scrape_configs:\n  - job_name: a\n    body_size_limit: 10\n", 3, "not a valid size: \"10\""),
        ("scrape_configs:\n  - job_name: a\n    body_size_limit: 10XB\n", 3, "not a valid size"),
        ("global:\n  metric_name_validation_scheme: ascii\n", 2, "unrecognized ValidationScheme: \"ascii\""),
        ("global:\n  metric_name_escaping_scheme: hex\n", 2, "unknown name escaping method"),
        ("global:\n  metric_name_validation_scheme: legacy\n  metric_name_escaping_scheme: allow-utf-8\n", 3,
         "utf8 metric names requested but validation scheme is not set to UTF8"),
        ("scrape_configs:\n  - job_name: a\n    enable_compression: sometimes\n", 3, "must be true or false"),
    ])
    func rejectsWithFileAndLine(yaml: String, line: Int, message: String) {
        let error = loadError(yaml)
        #expect(error?.line == line, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }

    @Test(arguments: [("0", 0), ("1B", 1), ("1KB", 1024), ("2KiB", 2048), ("1.5MB", 1_572_864), ("1GB512MB", 1_610_612_736)])
    func parsesSizes(text: String, bytes: Int) {
        #expect(ByteSize.parse(text) == bytes)
    }
}
