import Foundation
import Logging
import OutpostConfig
import Synchronization
import Telemetry
import Testing
import Transport

@testable import Discovery

/// file_sd through the real manager (files rewritten, broken and removed), the JSON/YAML group
/// readers' errors, and the Kubernetes state's list-before-emit and watch bookkeeping.
@Suite struct DiscoveryManagerTests {
    /// One client for the suite, never released (AsyncHTTPClient insists on a shutdown before deinit).
    static let transport = HTTPTransport()

    static func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "outpost-sd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Polls `condition` every 50 ms for up to 10 s.
    static func eventually(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    static func addresses(_ m: DiscoveryManager, _ job: String) -> [String] {
        (m.groups()[job] ?? []).flatMap { g in g.targets.compactMap { t in t.first { $0.0 == "__address__" }?.1 } }.sorted()
    }

    @Test func fileDiscoveryFollowsRewritesKeepsTargetsOfABrokenFileAndDropsRemovedFiles() async throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"[{"targets": ["10.0.0.1:9100", "10.0.0.2:9100"], "labels": {"env": "prod"}}]"#
            .write(toFile: dir + "/a.json", atomically: true, encoding: .utf8)
        let config = try ConfigLoader.parse(
            yaml: """
                scrape_configs:
                  - job_name: nodes
                    file_sd_configs:
                      - files: ['*.json', 'b.yml']
                """, file: dir + "/outpost.yml")
        let changes = Atomic<Int>(0)
        let status = StatusBoard(version: "t", configFile: "", startTime: 0)
        let manager = DiscoveryManager(
            transport: Self.transport, registry: MetricsRegistry(), status: status, logger: Logger(label: "test"),
            minimumInterval: .zero, onChange: { changes.add(1, ordering: .relaxed) })
        try manager.apply(config)
        #expect(await Self.eventually { Self.addresses(manager, "nodes") == ["10.0.0.1:9100", "10.0.0.2:9100"] })
        let group = try #require(manager.groups()["nodes"]?.first)
        #expect(group.source == dir + "/a.json:0")
        #expect(group.labels.contains { $0 == ("__meta_filepath", dir + "/a.json") })
        #expect(group.labels.contains { $0 == ("env", "prod") })

        try "- targets: ['10.0.0.3:9100']\n  labels:\n    env: dev\n".write(toFile: dir + "/b.yml", atomically: true, encoding: .utf8)
        #expect(await Self.eventually { Self.addresses(manager, "nodes") == ["10.0.0.1:9100", "10.0.0.2:9100", "10.0.0.3:9100"] })

        // A rewrite replaces the file's targets.
        try #"[{"targets": ["10.0.0.2:9100"]}]"#.write(toFile: dir + "/a.json", atomically: true, encoding: .utf8)
        #expect(await Self.eventually { Self.addresses(manager, "nodes") == ["10.0.0.2:9100", "10.0.0.3:9100"] })

        // A broken file keeps what it had and says why on /status.
        try #"[{"targets": ["10.0.0.9:9100"]"#.write(toFile: dir + "/a.json", atomically: true, encoding: .utf8)
        #expect(await Self.eventually { !(status.snapshot().discovery.first?.lastError ?? "").isEmpty })
        #expect(Self.addresses(manager, "nodes") == ["10.0.0.2:9100", "10.0.0.3:9100"])
        #expect(status.snapshot().discovery.first?.lastError.contains("a.json: invalid JSON") == true)

        try FileManager.default.removeItem(atPath: dir + "/a.json")
        #expect(await Self.eventually { Self.addresses(manager, "nodes") == ["10.0.0.3:9100"] })
        #expect(changes.load(ordering: .relaxed) >= 4)

        // A reload without the job stops its provider and forgets its targets.
        try manager.apply(OutpostConfiguration())
        #expect(manager.groups()["nodes"] == nil)
        await manager.shutdown()
    }

    @Test func unchangedProvidersSurviveAReload() async throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"[{"targets": ["10.0.0.1:9100"]}]"#.write(toFile: dir + "/a.json", atomically: true, encoding: .utf8)
        let yaml = """
            scrape_configs:
              - job_name: nodes
                file_sd_configs: [{files: [a.json], refresh_interval: 1h}]
            """
        let manager = DiscoveryManager(
            transport: Self.transport, registry: MetricsRegistry(), status: StatusBoard(version: "t", configFile: "", startTime: 0),
            logger: Logger(label: "test"), minimumInterval: .zero, onChange: {})
        try manager.apply(try ConfigLoader.parse(yaml: yaml, file: dir + "/outpost.yml"))
        #expect(await Self.eventually { Self.addresses(manager, "nodes") == ["10.0.0.1:9100"] })
        try manager.apply(try ConfigLoader.parse(yaml: yaml, file: dir + "/outpost.yml"))
        // Still there at once: the provider was kept, not restarted empty.
        #expect(Self.addresses(manager, "nodes") == ["10.0.0.1:9100"])
        await manager.shutdown()
    }

    @Test func jobsWithTheSameDiscoveryShareOneProvider() async throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"[{"targets": ["10.0.0.1:9100"]}]"#.write(toFile: dir + "/a.json", atomically: true, encoding: .utf8)
        let status = StatusBoard(version: "t", configFile: "", startTime: 0)
        let manager = DiscoveryManager(
            transport: Self.transport, registry: MetricsRegistry(), status: status, logger: Logger(label: "test"),
            minimumInterval: .zero, onChange: {})
        try manager.apply(
            try ConfigLoader.parse(
                yaml: """
                    scrape_configs:
                      - {job_name: one, file_sd_configs: [{files: [a.json]}]}
                      - {job_name: two, file_sd_configs: [{files: [a.json]}], metrics_path: /other}
                      - {job_name: three, file_sd_configs: [{files: [a.json], refresh_interval: 1m}]}
                    """, file: dir + "/outpost.yml"))
        #expect(await Self.eventually { ["one", "two", "three"].allSatisfy { !Self.addresses(manager, $0).isEmpty } })
        #expect(Self.addresses(manager, "one") == ["10.0.0.1:9100"])
        #expect(Self.addresses(manager, "two") == ["10.0.0.1:9100"])
        // one and two have the same settings: one provider; three differs.
        #expect(await Self.eventually { status.snapshot().discovery.count == 2 })
        #expect(status.snapshot().discovery.map(\.job).sorted() == ["one, two", "three"])
        await manager.shutdown()
    }

    @Test func targetGroupFilesAreCheckedWithTheirLocation() throws {
        #expect(throws: DiscoveryError.self) { try TargetGroupDecoding.json(Data(#"{"targets": []}"#.utf8), origin: "x.json") }
        do {
            _ = try TargetGroupDecoding.yaml("- targets: [a:1]\n  lables: {x: y}\n", origin: "t.yml")
            Issue.record("a misspelt field was accepted")
        } catch {
            #expect(error.description == "t.yml:2: field lables not found in target group")
        }
        do {
            _ = try TargetGroupDecoding.json(Data(#"[{"targets": ["a:1"], "labels": {"env": 3}}]"#.utf8), origin: "x.json")
            Issue.record("a number label was accepted")
        } catch {
            #expect(error.description == #"x.json: target group 0: label "env" must be a string"#)
        }
        let groups = try TargetGroupDecoding.yaml("- targets: ['a:1', 'b:2']\n  labels: {team: x}\n- targets: []\n", origin: "t.yml")
        #expect(groups.count == 2)
        #expect(groups[0].targets.map { $0[0].1 } == ["a:1", "b:2"])
    }

    @Test func kubernetesStateEmitsNothingUntilEveryInformerListed() throws {
        let pods = try KubernetesTargetsTests.list("pods-shop.json", KubePod.self)
        let services = try KubernetesTargetsTests.list("services.json", KubeService.self)
        let endpoints = try KubernetesTargetsTests.list("endpoints.json", KubeEndpoints.self)
        let ids: Set<String> = ["endpoints/shop", "services/shop", "pods/shop"].reduce(into: []) { $0.insert($1) }
        let state = KubeState(role: .endpoints, attachNode: false, informers: ids)
        #expect(state.apply(endpoints: .replace(endpoints), namespace: "shop").isEmpty)
        #expect(state.apply(services: .replace(services), namespace: "shop").isEmpty)
        // The last list completes the picture: every endpoints object, with service and pod labels.
        let all = state.apply(pods: .replace(pods), namespace: "shop")
        #expect(all.map(\.source) == ["endpoints/shop/cart", "endpoints/shop/checkout"])
        let checkout = try #require(all.last)
        #expect(checkout.labels.contains { $0 == ("__meta_kubernetes_service_label_team", "payments") })
        #expect(checkout.targets[0].contains { $0 == ("__meta_kubernetes_pod_name", "checkout-7d9f8b6c5d-x2k4q") })
        #expect(state.targetCount() == 7)

        // A pod's change rebuilds only the endpoints that point at it.
        let lines = try String(
            contentsOf: KubernetesTargetsTests.fixtures.appendingPathComponent("pods-watch.jsonl"), encoding: .utf8
        ).split(separator: "\n")
        let modified = try #require(try JSONDecoder().decode(KubeWatchEvent<KubePod>.self, from: Data(lines[2].utf8)).object)
        let rebuilt = state.apply(pods: .upsert(modified), namespace: "shop")
        #expect(rebuilt.map(\.source) == ["endpoints/shop/checkout"])
        #expect(rebuilt[0].targets[0].contains { $0 == ("__meta_kubernetes_pod_label_version", "v1.4.3") })

        // A deleted endpoints object empties its group.
        let gone = state.apply(endpoints: .delete(endpoints[0]), namespace: "shop")
        #expect(gone.count == 1 && gone[0].targets.isEmpty && gone[0].source == "endpoints/shop/" + endpoints[0].metadata.name)
    }

    @Test func kubernetesStateFollowsPodWatchEventsAndRelists() throws {
        let pods = try KubernetesTargetsTests.list("pods-shop.json", KubePod.self)
        let state = KubeState(role: .pod, attachNode: false, informers: ["pods/shop"])
        #expect(state.apply(pods: .replace(pods), namespace: "shop").count == 3)
        let lines = try String(
            contentsOf: KubernetesTargetsTests.fixtures.appendingPathComponent("pods-watch.jsonl"), encoding: .utf8
        ).split(separator: "\n")
        let events = try lines.map { try JSONDecoder().decode(KubeWatchEvent<KubePod>.self, from: Data($0.utf8)) }
        let added = state.apply(pods: .upsert(try #require(events[1].object)), namespace: "shop")
        #expect(added.map(\.source) == ["pod/shop/checkout-7d9f8b6c5d-r5t7v"])
        let modified = state.apply(pods: .upsert(try #require(events[2].object)), namespace: "shop")
        #expect(modified[0].labels.contains { $0 == ("__meta_kubernetes_pod_label_version", "v1.4.3") })
        // The same object again changes nothing.
        #expect(state.apply(pods: .upsert(try #require(events[2].object)), namespace: "shop").isEmpty)
        let deleted = state.apply(pods: .delete(try #require(events[3].object)), namespace: "shop")
        #expect(deleted.map(\.source) == ["pod/shop/checkout-7d9f8b6c5d-p8n2m"] && deleted[0].targets.isEmpty)
        // A relist after 410 Gone that no longer has the added pod removes it.
        let relisted = state.apply(pods: .replace(pods.filter { $0.metadata.name != "checkout-7d9f8b6c5d-p8n2m" }), namespace: "shop")
        #expect(relisted.contains { $0.source == "pod/shop/checkout-7d9f8b6c5d-r5t7v" && $0.targets.isEmpty })
    }
}

/// Where the API server is when neither api_server nor a kubeconfig is given: the pod's own
/// service account, as client-go's in-cluster configuration finds it.
@Suite struct InClusterConfigTests {
    @Test func serviceAccountTokenCAAndNamespace() throws {
        let dir = try DiscoveryManagerTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "shop".write(toFile: dir + "/namespace", atomically: true, encoding: .utf8)
        // A real CA certificate: the client loads it.
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/ca.key",
            "-out", dir + "/ca.crt", "-days", "1", "-subj", "/CN=test cluster CA",
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        #expect(openssl.terminationStatus == 0)
        var config = KubernetesSDConfig()
        config.role = .pod
        let client = try KubeClient.make(
            config, transport: DiscoveryManagerTests.transport,
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"], serviceAccount: dir)
        #expect(client.baseURL == "https://10.96.0.1:443")
        #expect(client.ownNamespace == "shop")
        #expect(client.settings.config.authorization?.credentialsFile == dir + "/token")
        #expect(client.settings.config.tls.caFile == dir + "/ca.crt")
        let v6 = try KubeClient.make(
            config, transport: DiscoveryManagerTests.transport,
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"], serviceAccount: dir)
        #expect(v6.baseURL == "https://[fd00::1]:6443")
        do {
            _ = try KubeClient.make(config, transport: DiscoveryManagerTests.transport, environment: [:], serviceAccount: dir)
            Issue.record("no in-cluster environment was accepted")
        } catch {
            #expect(error.message.hasPrefix("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined"))
        }
    }

    @Test func kubeconfigCurrentContextWithTokenFileAndInlineCA() throws {
        let dir = try DiscoveryManagerTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ca = Data("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".utf8).base64EncodedString()
        try """
            apiVersion: v1
            kind: Config
            current-context: prod
            contexts:
              - {name: dev, context: {cluster: dev, user: dev}}
              - {name: prod, context: {cluster: prod, user: robot, namespace: shop}}
            clusters:
              - {name: dev, cluster: {server: "https://dev:6443"}}
              - {name: prod, cluster: {server: "https://prod.example:6443/", certificate-authority-data: \(ca), tls-server-name: api.prod}}
            users:
              - {name: dev, user: {token: dev-token}}
              - {name: robot, user: {tokenFile: robot.token}}
            """.write(toFile: dir + "/kubeconfig", atomically: true, encoding: .utf8)
        let k = try Kubeconfig.load(dir + "/kubeconfig")
        #expect(k.server == "https://prod.example:6443")
        #expect(k.namespace == "shop")
        #expect(k.http.authorization?.credentialsFile == dir + "/robot.token")
        #expect(k.http.tls.ca?.hasPrefix("-----BEGIN CERTIFICATE-----") == true)
        #expect(k.http.tls.serverName == "api.prod")
        try "apiVersion: v1\ncurrent-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://c'}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n"
            .write(toFile: dir + "/exec", atomically: true, encoding: .utf8)
        #expect(throws: TransportError.self) { try Kubeconfig.load(dir + "/exec") }
    }
}
