import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Discovery end to end with the real binary: a Kubernetes API server in the test (recorded API
/// JSON, list and watch over HTTPS behind nginx, bearer token) whose pods appear, change labels,
/// disappear and expire (410); file_sd and http_sd. What counts is what a real Prometheus
/// receiver holds afterwards: the exact label sets of live series, removed pods gone stale.
@Suite(.serialized, .tags(.endToEnd)) struct DiscoveryEndToEndTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../DiscoveryTests/Fixtures/kubernetes").standardized

    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
    }

    /// A Kubernetes API server in namespace `shop`: lists from `lists` (by collection path; the
    /// pods list can be swapped), pod watches from a queue the test fills, other watches open
    /// and quiet.
    final class FakeAPIServer: Sendable {
        enum Step: Sendable {
            case event(String)
            /// Ends the current watch (the client watches again, or lists after a 410).
            case end
        }
        static let podsPath = "/api/v1/namespaces/shop/pods"
        let token: String
        let list = Mutex<String>("")
        let others: [String: String]
        let steps = Mutex<[Step]>([])
        /// Every request, as path and query.
        let requests = Mutex<[String]>([])
        let unauthorized = Atomic<Int>(0)
        var server: TestHTTPServer? { box.withLock { $0 } }
        private let box = Mutex<TestHTTPServer?>(nil)

        init(token: String, list: String, others: [String: String] = [:]) throws {
            self.token = token
            self.others = others
            self.list.withLock { $0 = list }
            let server = try TestHTTPServer { [unowned self] request in self.answer(request) }
            box.withLock { $0 = server }
        }

        func push(_ s: [Step]) { steps.withLock { $0 += s } }

        private func answer(_ r: TestHTTPServer.Request) -> TestHTTPServer.Reply {
            guard r.headers["authorization"] == "Bearer " + token else {
                unauthorized.add(1, ordering: .relaxed)
                return .respond(status: 401, headers: ["Content-Type: application/json"], body: Array(#"{"kind":"Status","message":"Unauthorized","code":401}"#.utf8))
            }
            requests.withLock { $0.append(r.path) }
            let path = String(r.path.prefix { $0 != "?" })
            let body: String
            if path == Self.podsPath {
                body = list.withLock { $0 }
            } else if let other = others[path] {
                body = other
            } else {
                return .respond(status: 404, headers: ["Content-Type: application/json"], body: Array(#"{"kind":"Status","code":404}"#.utf8))
            }
            if !r.path.contains("watch=true") {
                return .respond(status: 200, headers: ["Content-Type: application/json"], body: Array(body.utf8))
            }
            guard path == Self.podsPath else {
                return .stream(headers: ["Content-Type: application/json"]) { _, stopping in
                    while !stopping() { usleep(20_000) }
                }
            }
            return .stream(headers: ["Content-Type: application/json"]) { [self] send, stopping in
                while !stopping() {
                    // A step is taken off the queue only once delivered, so a watch the client
                    // already gave up on cannot swallow it.
                    let next: Step? = self.steps.withLock { $0.first }
                    switch next {
                    case .event(let line):
                        if !send(Array((line + "\n").utf8)) { return }
                        self.steps.withLock { _ = $0.removeFirst() }
                    case .end:
                        self.steps.withLock { _ = $0.removeFirst() }
                        return
                    case nil:
                        usleep(20_000)
                    }
                }
            }
        }
    }

    static func series(_ receiver: PrometheusReceiver, _ query: String) -> Set<[String: String]>? {
        receiver.query(query).map { Set($0.map(\.labels)) }
    }

    /// Waits until `query` returns exactly `expected`; on timeout records what it returned last.
    static func waitForSeries(
        _ receiver: PrometheusReceiver, _ query: String, _ expected: Set<[String: String]>, _ what: String
    ) async throws {
        do {
            _ = try await Harness.eventually(what) { series(receiver, query) == expected ? true : nil }
        } catch {
            Issue.record("last answer to \(query): \(String(describing: series(receiver, query)))")
            throw error
        }
    }

    static func podSeries(_ pod: String, ip: String, extra: [String: String] = [:]) -> [String: String] {
        [
            "__name__": "demo_up", "job": "kubernetes-pods", "instance": "\(ip):8080", "namespace": "shop", "pod": pod,
            "container": "app", "app": "checkout", "app_kubernetes_io_name": "checkout", "pod_template_hash": "7d9f8b6c5d",
        ].merging(extra) { a, _ in a }
    }

    @Test func podsDiscoveredFromTheAPIServerAppearChangeAndGoStale() async throws {
        let dir = Harness.tempDir("k8s-sd")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try RemoteWriteAuthTests.makeCertificates(dir)
        let token = "k8s-test-token-\(UInt32.random(in: 0...UInt32.max))"
        try token.write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        let api = try FakeAPIServer(token: token, list: try Self.fixture("pods-shop.json"))
        defer { api.server?.stop() }
        let target = try TestTarget(text: "# TYPE demo_up gauge\ndemo_up 1\n", headers: ["Content-Type: text/plain; version=0.0.4"])
        defer { target.stop() }
        let receiverPort = Harness.freePort()
        let nginxPort = Harness.freePort()
        let receiver = try PrometheusReceiver(port: receiverPort, dir: dir + "/receiver")
        let receiverProcess = try receiver.start(logDir: dir)
        let nginx = try RemoteWriteAuthTests.startNginx(
            dir: dir, port: nginxPort, upstream: try #require(api.server?.port), clientCertificates: false)
        let config = """
            global: {scrape_interval: 500ms}
            scrape_configs:
              - job_name: kubernetes-pods
                kubernetes_sd_configs:
                  - role: pod
                    api_server: https://127.0.0.1:\(nginxPort)
                    namespaces: {names: [shop]}
                    authorization: {credentials_file: token}
                    tls_config: {ca_file: ca.pem, server_name: receiver.test}
                relabel_configs:
                  - {source_labels: [__meta_kubernetes_pod_container_port_name], regex: http-metrics, action: keep}
                  - {source_labels: [__address__], target_label: instance}
                  - {target_label: __address__, replacement: "127.0.0.1:\(target.port)"}
                  - {action: labelmap, regex: __meta_kubernetes_pod_label_(.+)}
                  - {source_labels: [__meta_kubernetes_namespace], target_label: namespace}
                  - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
                  - {source_labels: [__meta_kubernetes_pod_container_name], target_label: container}
            remote_write:
              - url: http://127.0.0.1:\(receiverPort)/api/v1/write
                queue_config: {batch_send_deadline: 200ms}
            """
        let outpostPort = Harness.freePort()
        let outpost = try Harness.startOutpost(dir: dir, port: outpostPort, config: config).process
        defer { for p in [outpost, nginx, receiverProcess] where p.isRunning { kill(p.pid, SIGKILL) } }
        try await outpost.showingLogOnFailure {
            // The listed pods' http-metrics ports (cart-0 exposes only "metrics": dropped by relabeling).
            let x2k4q = Self.podSeries("checkout-7d9f8b6c5d-x2k4q", ip: "10.244.1.15")
            let p8n2m = Self.podSeries("checkout-7d9f8b6c5d-p8n2m", ip: "10.244.2.21")
            try await Self.waitForSeries(receiver, "demo_up", [x2k4q, p8n2m], "the listed pods scraped and written")

            // Watch: a bookmark, a pod added, one relabelled, one deleted.
            let events = try Self.fixture("pods-watch.jsonl").split(separator: "\n").map { Step.event(String($0)) }
            api.push(events)
            let r5t7v = Self.podSeries("checkout-7d9f8b6c5d-r5t7v", ip: "10.244.2.40")
            let x2k4qNow = x2k4q.merging(["version": "v1.4.3"]) { a, _ in a }
            // The old label set of x2k4q and the deleted pod got staleness markers: no longer current.
            do {
                try await Self.waitForSeries(receiver, "demo_up", [x2k4qNow, r5t7v], "the watch events applied")
            } catch {
                Issue.record("API requests: \(api.requests.withLock { $0 }); left: \(api.steps.withLock { $0.count })")
                throw error
            }

            // The watch version expires: Outpost lists again and the list (without r5t7v) is the truth.
            let modified = try #require(
                try Self.fixture("pods-watch.jsonl").split(separator: "\n").first { $0.contains(#""type":"MODIFIED""#) })
            let modifiedPod = try #require(
                (try JSONSerialization.jsonObject(with: Data(modified.utf8)) as? [String: Any])?["object"])
            let relist: [String: Any] = [
                "kind": "PodList", "apiVersion": "v1", "metadata": ["resourceVersion": "1500"], "items": [modifiedPod],
            ]
            api.list.withLock { $0 = String(decoding: try! JSONSerialization.data(withJSONObject: relist), as: UTF8.self) }
            api.push([.end, .event(try Self.fixture("watch-gone.jsonl").trimmingCharacters(in: .newlines)), .end])
            try await Self.waitForSeries(receiver, "demo_up", [x2k4qNow], "the relist after 410 Gone applied")

            // The requests: list, watch from the list's version, watch resumed from the last event's
            // version, and a list again after the 410 — all with the token; none went out without it.
            let requests = api.requests.withLock { $0 }
            let watches = requests.filter { $0.contains("watch=true") }
            #expect(requests.first?.hasPrefix("/api/v1/namespaces/shop/pods") == true && requests.first?.contains("watch") == false)
            #expect(watches.first?.contains("resourceVersion=1000") == true)
            #expect(watches.first?.contains("allowWatchBookmarks=true") == true)
            #expect(watches.contains { $0.contains("resourceVersion=1027") })
            let lists = requests.filter { !$0.contains("watch=true") }
            #expect(lists.count >= 2)
            #expect(api.unauthorized.load(ordering: .relaxed) == 0)

            let status = try #require(Harness.get(port: outpostPort, path: "/status")?.body)
            #expect(status.contains("kubernetes_sd pod"))
            let metrics = try #require(Harness.get(port: outpostPort, path: "/metrics")?.body)
            #expect(metrics.contains(#"prometheus_sd_kubernetes_events_total{role="pod",event="add"} 1"#))
            #expect(metrics.contains(#"prometheus_sd_kubernetes_events_total{role="pod",event="delete"} 1"#))
        }
    }

    typealias Step = FakeAPIServer.Step

    @Test func fileAndHTTPDiscoveryAddChangeAndRemoveTargets() async throws {
        let dir = Harness.tempDir("file-http-sd")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try TestTarget(text: "demo_up 1\n", headers: ["Content-Type: text/plain; version=0.0.4"])
        let b = try TestTarget(text: "demo_up 2\n", headers: ["Content-Type: text/plain; version=0.0.4"])
        defer { a.stop(); b.stop() }
        let groups = Mutex(#"[{"targets": ["127.0.0.1:\#(a.port)"], "labels": {"source": "http"}}]"#)
        let sd = try TestHTTPServer { _ in
            .respond(status: 200, headers: ["Content-Type: application/json"], body: Array(groups.withLock { $0 }.utf8))
        }
        defer { sd.stop() }
        try FileManager.default.createDirectory(atPath: dir + "/targets", withIntermediateDirectories: true)
        try "- targets: ['127.0.0.1:\(b.port)']\n  labels: {source: file, team: core}\n"
            .write(toFile: dir + "/targets/b.yml", atomically: true, encoding: .utf8)
        let receiverPort = Harness.freePort()
        let receiver = try PrometheusReceiver(port: receiverPort, dir: dir + "/receiver")
        let receiverProcess = try receiver.start(logDir: dir)
        let config = """
            global: {scrape_interval: 500ms}
            scrape_configs:
              - job_name: from-file
                file_sd_configs: [{files: ['targets/*.yml']}]
              - job_name: from-http
                http_sd_configs: [{url: 'http://127.0.0.1:\(sd.port)/targets', refresh_interval: 1s}]
                relabel_configs: [{source_labels: [__meta_url], regex: '.*/targets', target_label: via, replacement: http_sd}]
            remote_write:
              - url: http://127.0.0.1:\(receiverPort)/api/v1/write
                queue_config: {batch_send_deadline: 200ms}
            """
        let outpost = try Harness.startOutpost(dir: dir, port: Harness.freePort(), config: config).process
        defer { for p in [outpost, receiverProcess] where p.isRunning { kill(p.pid, SIGKILL) } }
        try await outpost.showingLogOnFailure {
            let fileB: [String: String] = [
                "__name__": "demo_up", "job": "from-file", "instance": "127.0.0.1:\(b.port)", "source": "file", "team": "core",
            ]
            let httpA: [String: String] = [
                "__name__": "demo_up", "job": "from-http", "instance": "127.0.0.1:\(a.port)", "source": "http", "via": "http_sd",
            ]
            try await Self.waitForSeries(receiver, "demo_up", [fileB, httpA], "both discovered targets written")
            // The file now names a, with other labels; the HTTP endpoint names b instead of a.
            try "- targets: ['127.0.0.1:\(a.port)']\n  labels: {source: file}\n"
                .write(toFile: dir + "/targets/b.yml", atomically: true, encoding: .utf8)
            groups.withLock { $0 = #"[{"targets": ["127.0.0.1:\#(b.port)"], "labels": {"source": "http"}}]"# }
            let fileA: [String: String] = ["__name__": "demo_up", "job": "from-file", "instance": "127.0.0.1:\(a.port)", "source": "file"]
            let httpB: [String: String] = [
                "__name__": "demo_up", "job": "from-http", "instance": "127.0.0.1:\(b.port)", "source": "http", "via": "http_sd",
            ]
            try await Self.waitForSeries(receiver, "demo_up", [fileA, httpB], "the changed targets written, the old ones stale")
            // The file goes away and the HTTP endpoint answers an empty list: no targets left.
            try FileManager.default.removeItem(atPath: dir + "/targets/b.yml")
            groups.withLock { $0 = "[]" }
            try await Self.waitForSeries(receiver, "demo_up", [], "every target removed")
        }
    }

    @Test func daemonSetModeAsksTheAPIServerForThisNodesPodsOnly() async throws {
        let dir = Harness.tempDir("node-local")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "node-token".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        let api = try FakeAPIServer(token: "node-token", list: try Self.fixture("pods-shop.json"))
        defer { api.server?.stop() }
        let config = """
            scrape_configs:
              - job_name: pods
                kubernetes_sd_configs:
                  - role: pod
                    api_server: http://127.0.0.1:\(try #require(api.server?.port))
                    namespaces: {names: [shop]}
                    authorization: {credentials_file: token}
                    selectors: [{role: pod, label: "app=checkout"}]
            """
        // Without NODE_NAME the flag cannot work: a clear error, exit 1.
        let refused = try Harness.startOutpost(
            dir: dir, port: Harness.freePort(), config: config, extra: ["--kubernetes.node-local"], name: "no-node"
        ).process
        #expect(await refused.stop(signal: 0, timeout: .seconds(30)) == 1)
        #expect(refused.log().contains("NODE_NAME is not set"))

        let outpost = try Harness.startOutpost(
            dir: dir, port: Harness.freePort(), config: config, extra: ["--kubernetes.node-local"],
            environment: ["NODE_NAME": "worker-a"]
        ).process
        defer { if outpost.isRunning { kill(outpost.pid, SIGKILL) } }
        try await outpost.showingLogOnFailure {
            let requests = try await Harness.eventually("a list and a watch") { () -> [String]? in
                let r = api.requests.withLock { $0 }
                return r.contains { $0.contains("watch=true") } ? r : nil
            }
            // The job's own selector and the node's, in both the list and the watch.
            for r in requests {
                #expect(r.contains("fieldSelector=spec.nodeName%3Dworker-a"), "\(r)")
                #expect(r.contains("labelSelector=app%3Dcheckout"), "\(r)")
            }
        }
    }

    /// Prometheus' hashmod of `value`: the last 8 bytes of its MD5, big-endian, modulo `modulus`
    /// (computed here with coreutils' md5sum, independently of Outpost).
    static func hashmod(_ value: String, _ modulus: UInt64) throws -> UInt64 {
        let hex = String(decoding: try piped("/usr/bin/md5sum", [], Array(value.utf8)), as: UTF8.self).prefix(32)
        let tail = try #require(UInt64(hex.suffix(16), radix: 16))
        return tail % modulus
    }

    @Test func twoReplicasSplitTheTargetsByHashOfTheAddress() async throws {
        let dir = Harness.tempDir("cluster")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var targets: [TestTarget] = []
        for _ in 0..<8 { targets.append(try TestTarget(text: "demo_up 1\n", headers: ["Content-Type: text/plain; version=0.0.4"])) }
        defer { for t in targets { t.stop() } }
        let addresses = targets.map { "127.0.0.1:\($0.port)" }
        let config = """
            global: {scrape_interval: 1s}
            scrape_configs:
              - job_name: shared
                static_configs: [{targets: [\(addresses.map { "'\($0)'" }.joined(separator: ", "))]}]
            """
        var ports: [Int] = []
        var replicas: [ChildProcess] = []
        for member in 0..<2 {
            let port = Harness.freePort()
            ports.append(port)
            replicas.append(
                try Harness.startOutpost(
                    dir: dir, port: port, config: config,
                    extra: ["--cluster.members-count=2", "--cluster.member-num=\(member)"], name: "replica\(member)"
                ).process)
        }
        defer { for r in replicas where r.isRunning { kill(r.pid, SIGKILL) } }
        func share(_ port: Int) -> Set<String>? {
            guard let body = Harness.get(port: port, path: "/api/v1/targets")?.body,
                let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let data = json["data"] as? [String: Any], let active = data["activeTargets"] as? [[String: Any]]
            else { return nil }
            return Set(active.compactMap { ($0["labels"] as? [String: String])?["instance"] })
        }
        // Both replicas up with their targets applied: together they hold every address.
        let shares = try await replicas[0].showingLogOnFailure {
            try await Harness.eventually("both replicas serve their targets") { () -> [Set<String>]? in
                guard let a = share(ports[0]), let b = share(ports[1]), a.union(b) == Set(addresses) else { return nil }
                return [a, b]
            }
        }
        #expect(shares[0].isDisjoint(with: shares[1]))
        #expect(shares[0].union(shares[1]) == Set(addresses))
        for a in addresses {
            let member = try Self.hashmod(a, 2)
            #expect(shares[Int(member)].contains(a), "\(a) belongs to replica \(member)")
        }
    }

    @Test func serviceMonitorJobsScrapeWithTheLabelsPrometheusOperatorGives() async throws {
        let dir = Harness.tempDir("monitors")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "mon-token".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        let api = try FakeAPIServer(
            token: "mon-token", list: try Self.fixture("pods-shop.json"),
            others: [
                // The fixture lists hold namespace shop's objects.
                "/api/v1/namespaces/shop/services": try Self.fixture("services.json"),
                "/api/v1/namespaces/shop/endpoints": try Self.fixture("endpoints.json"),
            ])
        defer { api.server?.stop() }
        let target = try TestTarget(text: "# TYPE demo_up gauge\ndemo_up 1\n", headers: ["Content-Type: text/plain; version=0.0.4"])
        defer { target.stop() }
        let receiverPort = Harness.freePort()
        let receiver = try PrometheusReceiver(port: receiverPort, dir: dir + "/receiver")
        let receiverProcess = try receiver.start(logDir: dir)
        try FileManager.default.createDirectory(atPath: dir + "/monitors", withIntermediateDirectories: true)
        // The monitor's own relabelings point the scrape at the local target, keeping the pod's
        // address as instance: everything else is the operator's generated rules.
        try """
            apiVersion: monitoring.coreos.com/v1
            kind: ServiceMonitor
            metadata: {name: checkout, namespace: shop}
            spec:
              jobLabel: app.kubernetes.io/name
              targetLabels: [team]
              selector: {matchLabels: {app.kubernetes.io/name: checkout}}
              endpoints:
                - port: http-metrics
                  interval: 500ms
                  relabelings:
                    - {sourceLabels: [__address__], targetLabel: instance}
                    - {targetLabel: __address__, replacement: "127.0.0.1:\(target.port)"}
            """.write(toFile: dir + "/monitors/checkout.yaml", atomically: true, encoding: .utf8)
        // Outside a cluster, the monitors' discovery reaches the API server through a kubeconfig.
        try """
            apiVersion: v1
            kind: Config
            current-context: test
            contexts: [{name: test, context: {cluster: fake, user: outpost, namespace: shop}}]
            clusters: [{name: fake, cluster: {server: "http://127.0.0.1:\(try #require(api.server?.port))"}}]
            users: [{name: outpost, user: {tokenFile: token}}]
            """.write(toFile: dir + "/kubeconfig", atomically: true, encoding: .utf8)
        let config = """
            global: {scrape_interval: 500ms}
            remote_write:
              - url: http://127.0.0.1:\(receiverPort)/api/v1/write
                queue_config: {batch_send_deadline: 200ms}
            """
        let outpost = try Harness.startOutpost(
            dir: dir, port: Harness.freePort(), config: config,
            extra: ["--monitors.dir=\(dir)/monitors", "--monitors.kubeconfig=\(dir)/kubeconfig"]
        ).process
        defer { for p in [outpost, receiverProcess] where p.isRunning { kill(p.pid, SIGKILL) } }
        try await outpost.showingLogOnFailure {
            // Both checkout pods behind the service's http-metrics port, labelled as the operator labels them.
            func series(_ pod: String, _ ip: String) -> [String: String] {
                [
                    "__name__": "demo_up", "job": "checkout", "instance": "\(ip):8080", "namespace": "shop", "service": "checkout",
                    "pod": pod, "container": "app", "endpoint": "http-metrics", "team": "payments",
                ]
            }
            try await Self.waitForSeries(
                receiver, "demo_up",
                [series("checkout-7d9f8b6c5d-x2k4q", "10.244.1.15"), series("checkout-7d9f8b6c5d-p8n2m", "10.244.2.21")],
                "the ServiceMonitor's targets scraped")

            // A PodMonitor added to the directory is picked up without a signal.
            try """
                apiVersion: monitoring.coreos.com/v1
                kind: PodMonitor
                metadata: {name: cart, namespace: shop}
                spec:
                  selector: {matchLabels: {app: cart}}
                  podMetricsEndpoints:
                    - port: metrics
                      interval: 500ms
                      relabelings:
                        - {sourceLabels: [__address__], targetLabel: instance}
                        - {targetLabel: __address__, replacement: "127.0.0.1:\(target.port)"}
                """.write(toFile: dir + "/monitors/cart.yaml", atomically: true, encoding: .utf8)
            let cart: [String: String] = [
                "__name__": "demo_up", "job": "shop/cart", "instance": "10.244.1.33:9100", "namespace": "shop", "pod": "cart-0",
                "container": "cart", "endpoint": "metrics",
            ]
            try await Self.waitForSeries(
                receiver, "demo_up",
                [series("checkout-7d9f8b6c5d-x2k4q", "10.244.1.15"), series("checkout-7d9f8b6c5d-p8n2m", "10.244.2.21"), cart],
                "the new PodMonitor's target scraped")
        }
    }
}
