import Foundation
import OutpostConfig
import Testing
import Yams

/// Every file under config-examples/ loads. Files they name under /etc/outpost/ are stood in for
/// by empty files in a temporary directory (the loader checks TLS files are readable).
@Suite struct ConfigExamplesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config-examples").path

    static func examples() -> [String] {
        let all = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        // Kubernetes manifests carry their configuration inside; `kubernetesManifests` reads them.
        return all.filter { $0.hasSuffix(".yaml") && !$0.hasPrefix("kubernetes/") }.sorted()
    }

    static func load(_ name: String) throws -> OutpostConfiguration {
        let dir = NSTemporaryDirectory() + "outpost-examples-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var text = try String(contentsOfFile: root + "/" + name, encoding: .utf8)
        text = text.replacingOccurrences(of: "/etc/outpost/", with: dir + "/")
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) where word.hasPrefix(dir) {
            let path = String(word)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: path, contents: Data())
        }
        return try ConfigLoader.parse(yaml: text, file: dir + "/" + name)
    }

    @Test func thereAreExamplesForEveryBackend() {
        let names = Self.examples()
        for backend in ["observatorium", "thanos-receive", "mimir", "amazon-managed-prometheus", "victoriametrics"] {
            #expect(names.contains("remote-write/\(backend).yaml"), "no example for \(backend)")
        }
    }

    @Test(arguments: examples())
    func loads(_ name: String) throws {
        let config = try Self.load(name)
        #expect(!config.remoteWrite.isEmpty || !config.scrapeConfigs.isEmpty)
    }

    @Test func backendExamplesSayWhatTheirBackendNeeds() throws {
        let rhobs = try Self.load("remote-write/observatorium.yaml").remoteWrite[0]
        #expect(rhobs.http.oauth2?.clientID == "outpost-data-plane")
        #expect(rhobs.url.contains("/api/metrics/v1/hypershift-platform/"))
        let thanos = try Self.load("remote-write/thanos-receive.yaml").remoteWrite[0]
        #expect(thanos.headers.contains { $0.0 == "THANOS-TENANT" })
        #expect(thanos.http.tls.certFile?.hasSuffix("tls.crt") == true)
        let mimir = try Self.load("remote-write/mimir.yaml").remoteWrite
        #expect(mimir[0].http.basicAuth?.username == "1234567")
        #expect(mimir[1].headers.contains { $0.0 == "X-Scope-OrgID" })
        let amp = try Self.load("remote-write/amazon-managed-prometheus.yaml").remoteWrite[0]
        #expect(amp.http.sigv4?.region == "us-east-1")
        let v2 = try Self.load("remote-write/prometheus-v2.yaml").remoteWrite[0]
        #expect(v2.protobufMessage == .v2 && v2.sendExemplars)
    }

    /// The `outpost.yaml` and the monitor documents a manifest's ConfigMaps hold, written to `dir`.
    static func unpack(_ manifest: String, into dir: String) throws -> String {
        let text = try String(contentsOfFile: root + "/" + manifest, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/monitors", withIntermediateDirectories: true)
        var configPath = ""
        for doc in try Yams.load_all(yaml: text) {
            guard let object = doc as? [String: Any], object["kind"] as? String == "ConfigMap",
                let data = object["data"] as? [String: String]
            else { continue }
            for (name, content) in data {
                if name == "outpost.yaml" {
                    configPath = dir + "/outpost.yaml"
                    let config = content.replacingOccurrences(of: "/etc/outpost/", with: dir + "/etc/")
                    try config.write(toFile: configPath, atomically: true, encoding: .utf8)
                    // The mounted Secrets' files, stood in for by empty files.
                    for word in config.split(whereSeparator: { " \n,{}[]".contains($0) }) where word.hasPrefix(dir + "/etc/") {
                        let path = String(word)
                        try FileManager.default.createDirectory(
                            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                        FileManager.default.createFile(atPath: path, contents: Data())
                    }
                } else {
                    try content.write(toFile: dir + "/monitors/" + name, atomically: true, encoding: .utf8)
                }
            }
        }
        return configPath
    }

    @Test func kubernetesManifestsCarryWorkingConfigurations() throws {
        let dir = NSTemporaryDirectory() + "outpost-manifests-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // DaemonSet: pod discovery on this node only, the PodMonitor's job, no ServiceMonitors.
        var node = try DeploymentSettings.make(nodeLocal: true, members: 1, member: 0, environment: ["NODE_NAME": "worker-a"])
        node.monitorsDirectory = dir + "/ds/monitors"
        let ds = try node.load(try Self.unpack("kubernetes/daemonset.yaml", into: dir + "/ds"))
        #expect(ds.monitorRejections.isEmpty)
        #expect(ds.scrapeConfigs.map(\.jobName) == ["node", "annotated-pods", "podMonitor/shop/cart/0"])
        for job in ds.scrapeConfigs.dropFirst() {
            guard case .kubernetes(let k) = job.serviceDiscovery.first?.mechanism else {
                Issue.record("\(job.jobName) has no pod discovery")
                continue
            }
            let nodeLocal = k.nodeName == "worker-a" || k.selectors.contains { $0.field == "spec.nodeName=worker-a" }
            #expect(nodeLocal, "\(job.jobName) is not node-local")
        }
        // StatefulSet with ServiceMonitors, two shards.
        var shard = try DeploymentSettings.make(nodeLocal: false, members: 2, member: 1, environment: [:])
        shard.monitorsDirectory = dir + "/sts/monitors"
        let sts = try shard.load(try Self.unpack("kubernetes/deployment.yaml", into: dir + "/sts"))
        #expect(sts.scrapeConfigs.map(\.jobName) == ["serviceMonitor/shop/checkout/0"])
        #expect(sts.remoteWrite.first?.headers.first?.0 == "THANOS-TENANT")
        // Sidecar: the application over localhost.
        let sidecar = try DeploymentSettings().load(try Self.unpack("kubernetes/sidecar.yaml", into: dir + "/sidecar"))
        #expect(sidecar.scrapeConfigs.first?.staticConfigs.first?.targets == ["127.0.0.1:8080"])
    }

    @Test func exampleMonitorsBecomeJobs() throws {
        let secrets = NSTemporaryDirectory() + "outpost-example-secrets-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: secrets) }
        try FileManager.default.createDirectory(atPath: secrets + "/secret/shop/checkout-tls", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: secrets + "/secret/shop/checkout-tls/ca.crt", contents: Data())
        try "scrape_configs: []\n".write(toFile: secrets + "/outpost.yaml", atomically: true, encoding: .utf8)
        var d = DeploymentSettings()
        d.monitorsDirectory = Self.root + "/kubernetes/monitors"
        d.monitorSecretsDirectory = secrets
        let config = try d.load(secrets + "/outpost.yaml")
        #expect(config.monitorRejections.map(\.description) == [])
        #expect(config.scrapeConfigs.map(\.jobName) == [
            "podMonitor/shop/cart/0", "serviceMonitor/shop/checkout/0", "serviceMonitor/shop/checkout/1",
        ])
        #expect(config.scrapeConfigs[2].http.tls.serverName == "checkout.shop.svc")
        #expect(config.scrapeConfigs[2].http.authorization?.credentialsFile == secrets + "/secret/shop/checkout-metrics-token/token")
    }
}
