import Foundation
import Logging
import OutpostConfig
import Synchronization
import Telemetry
import Transport

/// `kubernetes_sd_configs`: lists and watches the role's objects (and, for endpoints and
/// endpointslices, the services and pods they point at; nodes with `attach_metadata.node`) and
/// turns each object into one target group with Prometheus' `__meta_kubernetes_*` labels.
struct KubernetesDiscovery: DiscoveryProvider {
    let config: KubernetesSDConfig
    let client: KubeClient
    let context: DiscoveryContext
    let statusKey: String
    let job: String

    init(config: KubernetesSDConfig, context: DiscoveryContext, statusKey: String, job: String) throws(TransportError) {
        self.config = config
        self.client = try KubeClient.make(config, transport: context.transport)
        self.context = context
        self.statusKey = statusKey
        self.job = job
    }

    /// The namespaces to watch; nil for all.
    var namespaces: [String?] {
        var names = config.namespaces
        if config.ownNamespace, let own = client.ownNamespace, !names.contains(own) { names.append(own) }
        return names.isEmpty ? [nil] : names
    }

    func run(_ send: @escaping @Sendable ([TargetGroup]) -> Void) async {
        let role = config.role
        let reporter = DiscoveryReporter(
            status: context.status, key: statusKey,
            initial: DiscoveryStatus(job: job, mechanism: "kubernetes_sd \(role.rawValue)", source: redactURL(client.baseURL)))
        var ids: Set<String> = []
        for ns in namespaces {
            switch role {
            case .pod: ids.insert(KubeState.informerID("pods", ns))
            case .service: ids.insert(KubeState.informerID("services", ns))
            case .endpoints, .endpointslice:
                ids.formUnion([
                    KubeState.informerID(role == .endpoints ? "endpoints" : "endpointslices", ns),
                    KubeState.informerID("services", ns), KubeState.informerID("pods", ns),
                ])
            case .node: break
            }
        }
        if role == .node || config.attachNode { ids.insert(KubeState.informerID("nodes", nil)) }
        let state = KubeState(role: role, attachNode: config.attachNode, informers: ids)
        let emit: @Sendable ([TargetGroup]) -> Void = { groups in
            guard !groups.isEmpty else { return }
            send(groups)
            reporter.refreshed(targets: state.targetCount())
        }
        let failures = context.registry.makeCounter(name: "prometheus_sd_kubernetes_failures_total")
        let registry = context.registry
        let events: @Sendable (String) -> CounterMetric = { event in
            registry.makeCounter(name: "prometheus_sd_kubernetes_events_total", labels: [("role", role.rawValue), ("event", event)])
        }
        let report: @Sendable (String) -> Void = { error in reporter.failed(error) }
        func selector(_ r: KubernetesSDConfig.Role) -> (label: String, field: String) {
            let s = config.selectors.first { $0.role == r }
            return (s?.label ?? "", s?.field ?? "")
        }
        func informer<T: KubeObject>(_ type: T.Type, namespace: String?, role r: KubernetesSDConfig.Role) -> KubeInformer<T> {
            var (label, field) = selector(r)
            if T.self == KubePod.self, let node = config.nodeName {
                // DaemonSet mode: only this node's pods, filtered by the API server.
                field = field.isEmpty ? "spec.nodeName=\(node)" : field + ",spec.nodeName=\(node)"
            }
            return KubeInformer<T>(
                client: client, namespace: namespace, labelSelector: label, fieldSelector: field, logger: context.logger,
                failures: failures, events: events, report: report)
        }
        await withTaskGroup(of: Void.self) { group in
            for ns in namespaces {
                switch role {
                case .pod:
                    let i = informer(KubePod.self, namespace: ns, role: .pod)
                    group.addTask { await i.run { emit(state.apply(pods: $0, namespace: ns)) } }
                case .service:
                    let i = informer(KubeService.self, namespace: ns, role: .service)
                    group.addTask { await i.run { emit(state.apply(services: $0, namespace: ns)) } }
                case .endpoints:
                    let e = informer(KubeEndpoints.self, namespace: ns, role: .endpoints)
                    let s = informer(KubeService.self, namespace: ns, role: .service)
                    let p = informer(KubePod.self, namespace: ns, role: .pod)
                    group.addTask { await e.run { emit(state.apply(endpoints: $0, namespace: ns)) } }
                    group.addTask { await s.run { emit(state.apply(services: $0, namespace: ns)) } }
                    group.addTask { await p.run { emit(state.apply(pods: $0, namespace: ns)) } }
                case .endpointslice:
                    let e = informer(KubeEndpointSlice.self, namespace: ns, role: .endpointslice)
                    let s = informer(KubeService.self, namespace: ns, role: .service)
                    let p = informer(KubePod.self, namespace: ns, role: .pod)
                    group.addTask { await e.run { emit(state.apply(slices: $0, namespace: ns)) } }
                    group.addTask { await s.run { emit(state.apply(services: $0, namespace: ns)) } }
                    group.addTask { await p.run { emit(state.apply(pods: $0, namespace: ns)) } }
                case .node:
                    let n = informer(KubeNode.self, namespace: nil, role: .node)
                    group.addTask { await n.run { emit(state.apply(nodes: $0)) } }
                }
            }
            if config.attachNode && role != .node {
                let n = informer(KubeNode.self, namespace: nil, role: .node)
                group.addTask { await n.run { emit(state.apply(nodes: $0)) } }
            }
            await group.waitForAll()
        }
    }
}
