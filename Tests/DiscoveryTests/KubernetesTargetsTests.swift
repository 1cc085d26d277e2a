import Foundation
import OutpostConfig
import Testing

@testable import Discovery

/// Recorded-shape API JSON (Fixtures/kubernetes) through each role's target builder, checked
/// label by label against Prometheus' documented Kubernetes discovery.
@Suite struct KubernetesTargetsTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/kubernetes")

    static func list<T: KubeObject>(_ file: String, _ type: T.Type) throws -> [T] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(file))
        return try JSONDecoder().decode(KubeList<T>.self, from: data).items ?? []
    }

    static func dict(_ pairs: [(String, String)]) -> [String: String] {
        Dictionary(pairs, uniquingKeysWith: { _, b in b })
    }

    static let p = "__meta_kubernetes_"

    /// The pod labels of `shop/checkout-7d9f8b6c5d-x2k4q` as every role reports them.
    static let x2k4qPodLabels: [String: String] = [
        p + "pod_name": "checkout-7d9f8b6c5d-x2k4q", p + "pod_ip": "10.244.1.15", p + "pod_ready": "true",
        p + "pod_phase": "Running", p + "pod_node_name": "worker-a", p + "pod_host_ip": "10.0.0.11",
        p + "pod_uid": "a907e9ad-2f7f-4e64-9b62-826a78c76b13",
        p + "pod_label_app": "checkout", p + "pod_labelpresent_app": "true",
        p + "pod_label_app_kubernetes_io_name": "checkout", p + "pod_labelpresent_app_kubernetes_io_name": "true",
        p + "pod_label_pod_template_hash": "7d9f8b6c5d", p + "pod_labelpresent_pod_template_hash": "true",
        p + "pod_annotation_prometheus_io_path": "/metrics", p + "pod_annotationpresent_prometheus_io_path": "true",
        p + "pod_annotation_prometheus_io_port": "8080", p + "pod_annotationpresent_prometheus_io_port": "true",
        p + "pod_annotation_prometheus_io_scrape": "true", p + "pod_annotationpresent_prometheus_io_scrape": "true",
        p + "pod_controller_kind": "ReplicaSet", p + "pod_controller_name": "checkout-7d9f8b6c5d",
    ]

    @Test func podRoleGivesOneTargetPerContainerPortAndOnePerPortlessContainer() throws {
        let pods = try Self.list("pods.json", KubePod.self)
        #expect(pods.count == 4)
        let pod = try #require(pods.first { $0.metadata.name == "checkout-7d9f8b6c5d-x2k4q" })
        let g = KubeTargets.pod(pod, node: nil)
        #expect(g.source == "pod/shop/checkout-7d9f8b6c5d-x2k4q")
        var groupLabels = Self.x2k4qPodLabels
        groupLabels[Self.p + "namespace"] = "shop"
        #expect(Self.dict(g.labels) == groupLabels)
        let p = Self.p
        let app = [
            p + "pod_container_name": "app", p + "pod_container_image": "registry.example.com/shop/checkout:v1.4.2",
            p + "pod_container_id": "containerd://908f99c5da4b8af5c2d499cd4a78e8fd51247b3127a867adfa1dd0e29dc28de3",
            p + "pod_container_init": "false", p + "pod_container_port_protocol": "TCP",
        ]
        let expected: [[String: String]] = [
            app.merging([
                "__address__": "10.244.1.15:8080", p + "pod_container_port_number": "8080",
                p + "pod_container_port_name": "http-metrics",
            ]) { a, _ in a },
            app.merging([
                "__address__": "10.244.1.15:9090", p + "pod_container_port_number": "9090", p + "pod_container_port_name": "grpc",
            ]) { a, _ in a },
            [
                "__address__": "10.244.1.15:9901", p + "pod_container_name": "envoy",
                p + "pod_container_image": "envoyproxy/envoy:v1.29.1",
                p + "pod_container_id": "containerd://7e74072322b3e27ab576430a2691d97e3ea8681080d894e8c00060d49ac84c50",
                p + "pod_container_init": "false", p + "pod_container_port_number": "9901",
                p + "pod_container_port_name": "admin", p + "pod_container_port_protocol": "TCP",
            ],
            // The init container has no ports: one target at the bare pod IP, no port labels.
            [
                "__address__": "10.244.1.15", p + "pod_container_name": "migrate",
                p + "pod_container_image": "registry.example.com/shop/checkout:v1.4.2",
                p + "pod_container_id": "containerd://303f71e4774e77e76234b5ae178c368a9d7ca1bb5eb5bb32ef3b1f0e89d95ded",
                p + "pod_container_init": "true",
            ],
        ]
        #expect(g.targets.map(Self.dict) == expected)
    }

    @Test func podRoleReadinessIPv6AndMissingIP() throws {
        var cart = try #require(try Self.list("pods.json", KubePod.self).first { $0.metadata.name == "cart-0" })
        let g = KubeTargets.pod(cart, node: nil)
        #expect(Self.dict(g.labels)[Self.p + "pod_ready"] == "false")
        #expect(Self.dict(g.labels)[Self.p + "pod_controller_kind"] == "StatefulSet")
        // The redis container has no ports.
        #expect(g.targets.map { Self.dict($0)["__address__"] } == ["10.244.1.33:9100", "10.244.1.33"])
        cart.status.podIP = "fd00::a:5"
        #expect(KubeTargets.pod(cart, node: nil).targets.map { Self.dict($0)["__address__"] } == ["[fd00::a:5]:9100", "fd00::a:5"])
        cart.status.podIP = nil
        let pending = KubeTargets.pod(cart, node: nil)
        #expect(pending.targets.isEmpty && pending.labels.isEmpty && pending.source == "pod/shop/cart-0")
        cart.status.podIP = "10.244.1.33"
        cart.status.conditions = nil
        #expect(Self.dict(KubeTargets.pod(cart, node: nil).labels)[Self.p + "pod_ready"] == "unknown")
    }

    @Test func podRoleWithNodeMetadataAddsTheNodesLabelsOrDropsThePod() throws {
        let pod = try #require(try Self.list("pods.json", KubePod.self).first { $0.metadata.name == "checkout-7d9f8b6c5d-x2k4q" })
        let node = try #require(try Self.list("nodes.json", KubeNode.self).first { $0.metadata.name == "worker-a" })
        let labels = Self.dict(KubeTargets.pod(pod, node: node, attachNode: true).labels)
        #expect(labels[Self.p + "node_name"] == "worker-a")
        #expect(labels[Self.p + "node_label_topology_kubernetes_io_zone"] == "eu-west-1a")
        #expect(labels[Self.p + "node_labelpresent_topology_kubernetes_io_zone"] == "true")
        #expect(labels[Self.p + "node_provider_id"] == nil)  // only name, labels and annotations are attached
        #expect(KubeTargets.pod(pod, node: nil, attachNode: true).targets.isEmpty)
    }

    @Test func serviceRoleAddressesEachPortByDNSName() throws {
        let services = try Self.list("services.json", KubeService.self)
        let checkout = KubeTargets.service(try #require(services.first { $0.metadata.name == "checkout" }))
        #expect(checkout.source == "svc/shop/checkout")
        let labels = Self.dict(checkout.labels)
        #expect(labels[Self.p + "namespace"] == "shop")
        #expect(labels[Self.p + "service_name"] == "checkout")
        #expect(labels[Self.p + "service_label_team"] == "payments")
        #expect(labels[Self.p + "service_labelpresent_app_kubernetes_io_name"] == "true")
        let p = Self.p
        #expect(
            checkout.targets.map(Self.dict) == [
                [
                    "__address__": "checkout.shop.svc:8080", p + "service_port_name": "http-metrics",
                    p + "service_port_number": "8080", p + "service_port_protocol": "TCP", p + "service_type": "ClusterIP",
                    p + "service_cluster_ip": "10.96.12.7",
                ],
                [
                    "__address__": "checkout.shop.svc:9090", p + "service_port_name": "grpc", p + "service_port_number": "9090",
                    p + "service_port_protocol": "TCP", p + "service_type": "ClusterIP", p + "service_cluster_ip": "10.96.12.7",
                ],
            ])
        let external = KubeTargets.service(try #require(services.first { $0.metadata.name == "payments-db" }))
        let t = Self.dict(try #require(external.targets.first))
        #expect(t["__address__"] == "payments-db.shop.svc:5432")
        #expect(t[p + "service_external_name"] == "db.payments.example.com")
        #expect(t[p + "service_cluster_ip"] == nil)
        let headless = KubeTargets.service(try #require(services.first { $0.metadata.name == "cart" }))
        #expect(Self.dict(try #require(headless.targets.first))[p + "service_cluster_ip"] == "None")
    }

    static func podLookup(_ pods: [KubePod]) -> (String, String) -> KubePod? {
        let byKey = Dictionary(pods.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        return { ns, name in byKey[ns + "/" + name] }
    }

    @Test func endpointsRoleJoinsServiceAndPodAndAddsUncoveredContainerPorts() throws {
        let pods = try Self.list("pods.json", KubePod.self)
        let services = try Self.list("services.json", KubeService.self)
        let endpoints = try Self.list("endpoints.json", KubeEndpoints.self)
        let checkout = try #require(endpoints.first { $0.metadata.name == "checkout" })
        let g = KubeTargets.endpoints(
            checkout, service: services.first { $0.metadata.name == "checkout" }, pods: Self.podLookup(pods), node: { _ in nil })
        #expect(g.source == "endpoints/shop/checkout")
        let p = Self.p
        let labels = Self.dict(g.labels)
        #expect(labels[p + "namespace"] == "shop")
        #expect(labels[p + "service_name"] == "checkout")
        #expect(labels[p + "service_label_team"] == "payments")
        #expect(labels[p + "endpoints_name"] == "checkout")
        #expect(labels[p + "service_cluster_ip"] == nil)  // service port/type labels belong to the service role only
        // Two ports × two ready addresses, then each pod's envoy admin port, which no endpoint port covers.
        #expect(
            g.targets.map { Self.dict($0)["__address__"] } == [
                "10.244.1.15:8080", "10.244.2.21:8080", "10.244.1.15:9090", "10.244.2.21:9090", "10.244.1.15:9901",
                "10.244.2.21:9901",
            ])
        var first = Self.x2k4qPodLabels
        first.merge([
            "__address__": "10.244.1.15:8080", p + "endpoint_port_name": "http-metrics", p + "endpoint_port_protocol": "TCP",
            p + "endpoint_ready": "true", p + "endpoint_address_target_kind": "Pod",
            p + "endpoint_address_target_name": "checkout-7d9f8b6c5d-x2k4q", p + "endpoint_node_name": "worker-a",
            p + "pod_container_name": "app", p + "pod_container_image": "registry.example.com/shop/checkout:v1.4.2",
            p + "pod_container_port_name": "http-metrics", p + "pod_container_port_number": "8080",
            p + "pod_container_port_protocol": "TCP", p + "pod_container_init": "false",
        ]) { a, _ in a }
        #expect(Self.dict(g.targets[0]) == first)
        var extra = Self.x2k4qPodLabels
        extra.merge([
            "__address__": "10.244.1.15:9901", p + "pod_container_name": "envoy", p + "pod_container_image": "envoyproxy/envoy:v1.29.1",
            p + "pod_container_port_name": "admin", p + "pod_container_port_number": "9901", p + "pod_container_port_protocol": "TCP",
            p + "pod_container_init": "false",
        ]) { a, _ in a }
        #expect(Self.dict(g.targets[4]) == extra)

        let cart = try #require(endpoints.first { $0.metadata.name == "cart" })
        let cg = KubeTargets.endpoints(cart, service: nil, pods: Self.podLookup(pods), node: { _ in nil })
        let t = Self.dict(try #require(cg.targets.first))
        #expect(cg.targets.count == 1)
        #expect(t["__address__"] == "10.244.1.33:9100")
        #expect(t[p + "endpoint_ready"] == "false")
        #expect(t[p + "endpoint_hostname"] == "cart-0")
        #expect(t[p + "pod_ready"] == "false")
        #expect(Self.dict(cg.labels)[p + "service_name"] == nil)  // the service is unknown
    }

    @Test func endpointSliceRoleReportsConditionsZonesAndAppProtocol() throws {
        let pods = try Self.list("pods.json", KubePod.self)
        let services = try Self.list("services.json", KubeService.self)
        let slices = try Self.list("endpointslices.json", KubeEndpointSlice.self)
        let slice = try #require(slices.first { $0.metadata.name == "checkout-abcde" })
        let service = services.first { $0.key == KubeState.serviceKey(of: slice) }
        #expect(service?.metadata.name == "checkout")
        let g = KubeTargets.endpointSlice(slice, service: service, pods: Self.podLookup(pods), node: { _ in nil })
        let p = Self.p
        #expect(g.source == "endpointslice/shop/checkout-abcde")
        let labels = Self.dict(g.labels)
        #expect(labels[p + "endpointslice_address_type"] == "IPv4")
        #expect(labels[p + "endpointslice_label_kubernetes_io_service_name"] == "checkout")
        #expect(labels[p + "service_name"] == "checkout")
        let first = Self.dict(try #require(g.targets.first))
        #expect(first["__address__"] == "10.244.1.15:8080")
        #expect(first[p + "endpointslice_port"] == "8080")
        #expect(first[p + "endpointslice_port_name"] == "http-metrics")
        #expect(first[p + "endpointslice_port_protocol"] == "TCP")
        #expect(first[p + "endpointslice_port_app_protocol"] == "http")
        #expect(first[p + "endpointslice_endpoint_conditions_ready"] == "true")
        #expect(first[p + "endpointslice_endpoint_conditions_serving"] == "true")
        #expect(first[p + "endpointslice_endpoint_conditions_terminating"] == "false")
        #expect(first[p + "endpointslice_endpoint_node_name"] == "worker-a")
        #expect(first[p + "endpointslice_endpoint_zone"] == "eu-west-1a")
        #expect(first[p + "endpointslice_address_target_kind"] == "Pod")
        #expect(first[p + "endpointslice_address_target_name"] == "checkout-7d9f8b6c5d-x2k4q")
        #expect(first[p + "pod_container_name"] == "app")
        #expect(first[p + "pod_name"] == "checkout-7d9f8b6c5d-x2k4q")
        #expect(g.targets.filter { Self.dict($0)[p + "endpointslice_port"] == nil }.map { Self.dict($0)["__address__"] } == [
            "10.244.1.15:9901", "10.244.2.21:9901",
        ])
    }

    @Test func nodeRoleUsesTheInternalIPAndKubeletPort() throws {
        let nodes = try Self.list("nodes.json", KubeNode.self)
        let workerA = try #require(nodes.first { $0.metadata.name == "worker-a" })
        let workerB = try #require(nodes.first { $0.metadata.name == "worker-b" })
        let a = try #require(KubeTargets.node(workerA))
        #expect(a.source == "node/worker-a")
        let p = Self.p
        let labels = Self.dict(a.labels)
        #expect(labels[p + "node_name"] == "worker-a")
        #expect(labels[p + "node_provider_id"] == "aws:///eu-west-1a/i-0abc11")
        #expect(labels[p + "node_condition_ready"] == "true")
        #expect(labels[p + "node_label_kubernetes_io_hostname"] == "worker-a")
        let t = Self.dict(try #require(a.targets.first))
        #expect(t["__address__"] == "10.0.0.11:10250")
        #expect(t["instance"] == "worker-a")
        #expect(t[p + "node_address_InternalIP"] == "10.0.0.11")
        #expect(t[p + "node_address_ExternalIP"] == "203.0.113.11")
        #expect(t[p + "node_address_Hostname"] == "worker-a")
        let b = Self.dict(try #require(KubeTargets.node(workerB)?.targets.first))
        #expect(b[p + "node_address_ExternalIP"] == nil)
        var bare = try #require(nodes.first)
        bare.status.addresses = []
        #expect(KubeTargets.node(bare) == nil)  // no usable address: nothing sent, the old group stays
    }

    @Test func labelNamesAreSanitizedPerCharacter() {
        #expect(KubeTargets.sanitize("app.kubernetes.io/name") == "app_kubernetes_io_name")
        #expect(KubeTargets.sanitize("team-ü") == "team__")
        #expect(KubeTargets.sanitize("Ok_09") == "Ok_09")
    }

    @Test func watchEventsDecodeIncludingBookmarksAndExpiry() throws {
        let lines = try String(contentsOf: Self.fixtures.appendingPathComponent("pods-watch.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        let events = try lines.map { try JSONDecoder().decode(KubeWatchEvent<KubePod>.self, from: Data($0.utf8)) }
        #expect(events.map(\.type) == ["BOOKMARK", "ADDED", "MODIFIED", "DELETED"])
        #expect(events[0].bookmarkVersion == "1003")
        #expect(events[1].object?.metadata.name == "checkout-7d9f8b6c5d-r5t7v")
        #expect(events[2].object?.metadata.labels?["version"] == "v1.4.3")
        #expect(events[3].object?.metadata.resourceVersion == "1027")
        let gone = try String(contentsOf: Self.fixtures.appendingPathComponent("watch-gone.jsonl"), encoding: .utf8)
        let e = try JSONDecoder().decode(KubeWatchEvent<KubePod>.self, from: Data(gone.utf8))
        #expect(e.type == "ERROR" && e.errorCode == 410)
    }
}
