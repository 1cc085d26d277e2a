import Foundation
import OutpostConfig
import Testing

/// ServiceMonitor and PodMonitor documents into scrape jobs, compared with the jobs
/// prometheus-operator generates for them (Fixtures/monitors/expected.yaml, written from the
/// operator's rules: job names and order, selector, port, target-label, job and sharding rules).
/// Outpost's one deliberate difference: secrets are `*_file` paths to the mounted Secret, where
/// the operator copies the secret's value into the configuration.
@Suite struct MonitorTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/monitors").path

    static func secretsDir() throws -> String {
        let dir = NSTemporaryDirectory() + "outpost-monitor-secrets-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/secret/shop/checkout-tls", withIntermediateDirectories: true)
        try "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"
            .write(toFile: dir + "/secret/shop/checkout-tls/ca.crt", atomically: true, encoding: .utf8)
        // Prometheus takes an OAuth2 client id as a value: it is read from the mounted Secret.
        try FileManager.default.createDirectory(atPath: dir + "/secret/shop/checkout-oauth", withIntermediateDirectories: true)
        try "outpost-client\n".write(toFile: dir + "/secret/shop/checkout-oauth/client-id", atomically: true, encoding: .utf8)
        return dir
    }

    @Test func printedJobsEqualWhatPrometheusOperatorGenerates() throws {
        let secrets = try Self.secretsDir()
        defer { try? FileManager.default.removeItem(atPath: secrets) }
        var d = DeploymentSettings()
        d.monitorsDirectory = Self.fixtures + "/docs"
        d.monitorSecretsDirectory = secrets
        let config = try d.load(Self.fixtures + "/outpost.yaml")
        #expect(config.monitorRejections.isEmpty)
        let expected = try String(contentsOfFile: Self.fixtures + "/expected.yaml", encoding: .utf8)
            .replacingOccurrences(of: "SECRETS", with: secrets)
        let printed = ConfigPrinter.scrapeConfigs(config)
        #expect(printed == expected)
        if printed != expected {
            // Show the first differing line.
            let a = printed.split(separator: "\n", omittingEmptySubsequences: false)
            let b = expected.split(separator: "\n", omittingEmptySubsequences: false)
            if let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                Issue.record("line \(i + 1): printed \"\(a[i])\", expected \"\(b[i])\"")
            }
        }
        // The printed jobs are the running jobs: each read back as configuration gives the same job.
        #expect(config.scrapeConfigs.map(\.jobName) == [
            "node", "podMonitor/shop/cart/0", "podMonitor/shop/cart/1", "podMonitor/shop/cart/2",
            "serviceMonitor/monitoring/payments/0", "serviceMonitor/shop/checkout/0", "serviceMonitor/shop/checkout/1",
            "serviceMonitor/shop/checkout/2",
        ])
        let admin = try #require(config.scrapeConfigs.last)
        #expect(admin.http.oauth2?.clientID == "outpost-client")
        #expect(admin.http.oauth2?.clientSecretFile?.hasSuffix("/secret/shop/checkout-oauth/client-secret") == true)
        let checkout = try #require(config.scrapeConfigs.first { $0.jobName == "serviceMonitor/shop/checkout/0" })
        #expect(checkout.scrapeInterval == .seconds(15))
        #expect(checkout.metricsPath == "/internal/metrics")
        #expect(checkout.honorLabels)
        #expect(checkout.sampleLimit == 5000)
        #expect(checkout.fromMonitor)
        #expect(checkout.metricRelabelConfigs.map(\.action) == [.drop])
        guard case .kubernetes(let sd) = checkout.serviceDiscovery.first?.mechanism else {
            Issue.record("no kubernetes discovery")
            return
        }
        #expect(sd.role == .endpoints && sd.namespaces == ["shop"])
        #expect(!printed.contains("not-to-be-printed"))
    }

    static func monitorsDir(_ docs: String) throws -> String {
        let dir = NSTemporaryDirectory() + "outpost-monitors-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try docs.write(toFile: dir + "/m.yaml", atomically: true, encoding: .utf8)
        try "scrape_configs: []\n".write(toFile: dir + "/outpost.yml", atomically: true, encoding: .utf8)
        return dir
    }

    @Test func daemonSetModeRefusesServiceMonitorsAndSelectsThisNodesPods() throws {
        let dir = try Self.monitorsDir(
            """
            apiVersion: monitoring.coreos.com/v1
            kind: ServiceMonitor
            metadata: {name: web, namespace: shop}
            spec: {selector: {}, endpoints: [{port: http}]}
            ---
            apiVersion: monitoring.coreos.com/v1
            kind: PodMonitor
            metadata: {name: web, namespace: shop}
            spec: {selector: {}, podMetricsEndpoints: [{port: http}]}
            """)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var d = try DeploymentSettings.make(nodeLocal: true, members: 1, member: 0, environment: ["NODE_NAME": "worker-b"])
        d.monitorsDirectory = dir
        let config = try d.load(dir + "/outpost.yml")
        #expect(config.scrapeConfigs.map(\.jobName) == ["podMonitor/shop/web/0"])
        #expect(config.monitorRejections.count == 1)
        #expect(config.monitorRejections.first?.message.contains("ServiceMonitor shop/web refused: in DaemonSet mode") == true)
        #expect(config.monitorRejections.first?.line == 1)
        let printed = ConfigPrinter.scrapeConfigs(config)
        #expect(printed.contains("    selectors:\n    - role: pod\n      field: spec.nodeName=worker-b\n"))
        #expect(!printed.contains("__tmp_hash"))  // no sharding rules in DaemonSet mode, as the operator
        guard case .kubernetes(let sd) = config.scrapeConfigs[0].serviceDiscovery[0].mechanism else { return }
        #expect(sd.selectors == [.init(role: .pod, label: "", field: "spec.nodeName=worker-b")])
        #expect(sd.nodeName == nil)  // the selector already says it; not added twice
    }

    @Test func shardsComeFromTheClusterFlags() throws {
        let dir = try Self.monitorsDir(
            """
            apiVersion: monitoring.coreos.com/v1
            kind: PodMonitor
            metadata: {name: web, namespace: shop}
            spec: {selector: {}, podMetricsEndpoints: [{port: http}]}
            """)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var d = try DeploymentSettings.make(nodeLocal: false, members: 3, member: 1, environment: [:])
        d.monitorsDirectory = dir
        let config = try d.load(dir + "/outpost.yml")
        let printed = ConfigPrinter.scrapeConfigs(config)
        #expect(printed.contains("    modulus: 3\n    action: hashmod\n"))
        #expect(printed.contains("    regex: 1;|.+;.+\n"))
        // The generic cluster rules are not added on top of the operator's own.
        #expect(!config.scrapeConfigs[0].relabelConfigs.contains { $0.targetLabel == "__tmp_cluster_hash" })
    }

    @Test func badMonitorsAreSkippedWithTheirLocation() throws {
        let dir = try Self.monitorsDir(
            """
            apiVersion: monitoring.coreos.com/v1
            kind: PodMonitor
            metadata: {name: typo, namespace: shop}
            spec:
              selector: {}
              podMetricsEndpoints:
                - port: http
                  intervall: 10s
            ---
            apiVersion: monitoring.coreos.com/v1
            kind: ServiceMonitor
            metadata: {name: badop, namespace: shop}
            spec:
              selector: {matchExpressions: [{key: a, operator: Like, values: [x]}]}
              endpoints: [{port: http}]
            ---
            apiVersion: monitoring.coreos.com/v1
            kind: ServiceMonitor
            metadata: {name: twoauth, namespace: shop}
            spec:
              selector: {}
              endpoints:
                - port: http
                  basicAuth: {username: {name: a, key: u}}
                  authorization: {credentials: {name: a, key: t}}
            ---
            apiVersion: monitoring.coreos.com/v1
            kind: PodMonitor
            metadata: {name: good, namespace: shop}
            spec: {selector: {}, podMetricsEndpoints: [{port: http}]}
            """)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var d = DeploymentSettings()
        d.monitorsDirectory = dir
        let config = try d.load(dir + "/outpost.yml")
        #expect(config.scrapeConfigs.map(\.jobName) == ["podMonitor/shop/good/0"])
        let messages = config.monitorRejections.map(\.description)
        #expect(messages.count == 3)
        #expect(messages.contains { $0.hasSuffix("m.yaml:8: field intervall not found in PodMonitor shop/typo: spec.podMetricsEndpoints[0]") })
        #expect(messages.contains { $0.contains("\"Like\" is not a valid selector operator") })
        #expect(messages.contains { $0.contains("authorization and basicAuth cannot be configured at the same time") })
    }
}

/// The configuration file's own `monitors:` section, the same settings as the flags.
@Suite struct MonitorsSectionTests {
    @Test func theFileCanNameTheMonitorsAndTheFlagsWin() throws {
        let dir = try MonitorTests.monitorsDir(
            """
            apiVersion: monitoring.coreos.com/v1
            kind: PodMonitor
            metadata: {name: web, namespace: shop}
            spec: {selector: {}, podMetricsEndpoints: [{port: http}]}
            """)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/other", withIntermediateDirectories: true)
        try "monitors: {dir: ., secrets_dir: secrets, kubeconfig_file: kc}\nscrape_configs: []\n"
            .write(toFile: dir + "/outpost.yml", atomically: true, encoding: .utf8)
        let fromFile = try DeploymentSettings().load(dir + "/outpost.yml")
        #expect(fromFile.scrapeConfigs.map(\.jobName) == ["podMonitor/shop/web/0"])
        #expect(fromFile.monitorSettings?.secretsDirectory == dir + "/secrets")
        #expect(fromFile.monitorSettings?.kubeconfig == dir + "/kc")
        var flags = DeploymentSettings()
        flags.monitorsDirectory = dir + "/other"
        let fromFlags = try flags.load(dir + "/outpost.yml")
        #expect(fromFlags.scrapeConfigs.isEmpty)
        #expect(fromFlags.monitorSettings?.directory == dir + "/other")
        #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: "monitors: {directory: x}\n", file: "c.yml")
        }
    }
}
