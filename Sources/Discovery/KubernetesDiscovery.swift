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
        let initial = DiscoveryStatus(job: job, mechanism: "kubernetes_sd \(role.rawValue)", source: redactURL(client.baseURL))
        context.status.updateDiscovery(statusKey, initial) { _ in }
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
        let statusKey = statusKey
        let status = context.status
        let emit: @Sendable ([TargetGroup]) -> Void = { groups in
            guard !groups.isEmpty else { return }
            send(groups)
            let total = state.targetCount()
            status.updateDiscovery(statusKey, initial) { d in
                d.targets = total
                d.lastUpdate = Int64(Date().timeIntervalSince1970 * 1000)
            }
        }
        let failures = context.registry.makeCounter(name: "prometheus_sd_kubernetes_failures_total")
        let registry = context.registry
        let events: @Sendable (String) -> CounterMetric = { event in
            registry.makeCounter(name: "prometheus_sd_kubernetes_events_total", labels: [("role", role.rawValue), ("event", event)])
        }
        let report: @Sendable (String) -> Void = { error in status.updateDiscovery(statusKey, initial) { $0.lastError = error } }
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

/// The watched objects of one provider and the groups they make. Nothing is emitted until every
/// informer has listed once (so no group starts without its service's or pods' labels); then
/// each change returns the groups it affects, rebuilt from the current objects (an empty group
/// for a removed object).
final class KubeState: Sendable {
    private struct Stores {
        var pods: [String: KubePod] = [:]
        var services: [String: KubeService] = [:]
        var endpoints: [String: KubeEndpoints] = [:]
        var slices: [String: KubeEndpointSlice] = [:]
        var nodes: [String: KubeNode] = [:]
        var listed: Set<String> = []
        var ready = false
        /// Targets per source, for `/status`.
        var sent: [String: Int] = [:]
    }
    private let stores = Mutex(Stores())
    let role: KubernetesSDConfig.Role
    let attachNode: Bool
    /// The informers (resource and namespace) that must list before anything is emitted.
    let informers: Set<String>

    init(role: KubernetesSDConfig.Role, attachNode: Bool, informers: Set<String>) {
        self.role = role
        self.attachNode = attachNode
        self.informers = informers
    }

    static func informerID(_ resource: String, _ namespace: String?) -> String { resource + "/" + (namespace ?? "*") }

    func targetCount() -> Int { stores.withLock { $0.sent.values.reduce(0, +) } }

    /// Applies a change to `store`: returns the objects added or changed and those removed.
    private static func merge<T: KubeObject>(
        _ change: KubeChange<T>, into store: inout [String: T], namespace: String?
    ) -> (changed: [T], removed: [T]) {
        switch change {
        case .replace(let items):
            // A fresh list replaces this namespace's objects (all of them for a cluster-wide watch).
            let fresh = Dictionary(items.map { ($0.key, $0) }, uniquingKeysWith: { _, b in b })
            var removed: [T] = []
            for (k, o) in store where fresh[k] == nil && (namespace == nil || o.metadata.namespace == namespace) {
                removed.append(o)
                store[k] = nil
            }
            var changed: [T] = []
            for (k, o) in fresh where store[k] != o {
                store[k] = o
                changed.append(o)
            }
            return (changed, removed)
        case .upsert(let o):
            guard store[o.key] != o else { return ([], []) }
            store[o.key] = o
            return ([o], [])
        case .delete(let o):
            store[o.key] = nil
            return ([], [o])
        }
    }

    /// Marks a list as done; true when that made every informer listed (emit everything now).
    private func listed<T>(_ change: KubeChange<T>, _ id: String, _ s: inout Stores) -> Bool {
        guard case .replace = change, !s.ready else { return false }
        s.listed.insert(id)
        if s.listed.isSuperset(of: informers) {
            s.ready = true
            return true
        }
        return false
    }

    func apply(pods change: KubeChange<KubePod>, namespace: String?) -> [TargetGroup] {
        stores.withLock { s in
            let (changed, removed) = Self.merge(change, into: &s.pods, namespace: namespace)
            if listed(change, Self.informerID("pods", namespace), &s) { return everything(&s) }
            guard s.ready else { return [] }
            switch role {
            case .pod:
                return record(&s, changed.map { podGroup($0, s) } + removed.map { KubeTargets.removed(pod: $0) })
            case .endpoints:
                // Pods add labels to the endpoints that point at them: rebuild just those.
                let pods = Set((changed + removed).map(\.key))
                return record(&s, s.endpoints.values.filter { Self.references($0, pods) }.map { endpointsGroup($0, s) })
            case .endpointslice:
                let pods = Set((changed + removed).map(\.key))
                return record(&s, s.slices.values.filter { Self.references($0, pods) }.map { sliceGroup($0, s) })
            default:
                return []
            }
        }
    }

    func apply(services change: KubeChange<KubeService>, namespace: String?) -> [TargetGroup] {
        stores.withLock { s in
            let (changed, removed) = Self.merge(change, into: &s.services, namespace: namespace)
            if listed(change, Self.informerID("services", namespace), &s) { return everything(&s) }
            guard s.ready else { return [] }
            switch role {
            case .service:
                return record(&s, changed.map { KubeTargets.service($0) } + removed.map { KubeTargets.removed(service: $0) })
            case .endpoints:
                let keys = Set((changed + removed).map(\.key))
                return record(&s, s.endpoints.values.filter { keys.contains($0.key) }.map { endpointsGroup($0, s) })
            case .endpointslice:
                let keys = Set((changed + removed).map(\.key))
                return record(&s, s.slices.values.filter { keys.contains(Self.serviceKey(of: $0)) }.map { sliceGroup($0, s) })
            default:
                return []
            }
        }
    }

    func apply(endpoints change: KubeChange<KubeEndpoints>, namespace: String?) -> [TargetGroup] {
        stores.withLock { s in
            let (changed, removed) = Self.merge(change, into: &s.endpoints, namespace: namespace)
            if listed(change, Self.informerID("endpoints", namespace), &s) { return everything(&s) }
            guard s.ready else { return [] }
            return record(&s, changed.map { endpointsGroup($0, s) } + removed.map { KubeTargets.removed(endpoints: $0) })
        }
    }

    func apply(slices change: KubeChange<KubeEndpointSlice>, namespace: String?) -> [TargetGroup] {
        stores.withLock { s in
            let (changed, removed) = Self.merge(change, into: &s.slices, namespace: namespace)
            if listed(change, Self.informerID("endpointslices", namespace), &s) { return everything(&s) }
            guard s.ready else { return [] }
            return record(&s, changed.map { sliceGroup($0, s) } + removed.map { KubeTargets.removed(slice: $0) })
        }
    }

    func apply(nodes change: KubeChange<KubeNode>) -> [TargetGroup] {
        stores.withLock { s in
            let (changed, removed) = Self.merge(change, into: &s.nodes, namespace: nil)
            if listed(change, Self.informerID("nodes", nil), &s) { return everything(&s) }
            guard s.ready else { return [] }
            switch role {
            case .node:
                return record(&s, changed.compactMap { KubeTargets.node($0) } + removed.map { KubeTargets.removed(node: $0) })
            case .pod where attachNode:
                let names = Set((changed + removed).map(\.metadata.name))
                return record(&s, s.pods.values.filter { names.contains($0.spec.nodeName ?? "") }.map { podGroup($0, s) })
            case .endpoints where attachNode:
                return record(&s, s.endpoints.values.map { endpointsGroup($0, s) })
            case .endpointslice where attachNode:
                return record(&s, s.slices.values.map { sliceGroup($0, s) })
            default:
                return []
            }
        }
    }

    /// Every group of the role, once all informers have listed.
    private func everything(_ s: inout Stores) -> [TargetGroup] {
        let groups: [TargetGroup]
        switch role {
        case .pod: groups = s.pods.keys.sorted().compactMap { s.pods[$0] }.map { podGroup($0, s) }
        case .service: groups = s.services.keys.sorted().compactMap { s.services[$0] }.map { KubeTargets.service($0) }
        case .endpoints: groups = s.endpoints.keys.sorted().compactMap { s.endpoints[$0] }.map { endpointsGroup($0, s) }
        case .endpointslice: groups = s.slices.keys.sorted().compactMap { s.slices[$0] }.map { sliceGroup($0, s) }
        case .node: groups = s.nodes.keys.sorted().compactMap { s.nodes[$0] }.compactMap { KubeTargets.node($0) }
        }
        return record(&s, groups)
    }

    private func record(_ s: inout Stores, _ groups: [TargetGroup]) -> [TargetGroup] {
        for g in groups { s.sent[g.source] = g.targets.isEmpty ? nil : g.targets.count }
        return groups
    }

    private func podGroup(_ pod: KubePod, _ s: Stores) -> TargetGroup {
        let node = attachNode ? pod.spec.nodeName.flatMap { s.nodes[$0] } : nil
        return KubeTargets.pod(pod, node: node, attachNode: attachNode)
    }

    private func endpointsGroup(_ e: KubeEndpoints, _ s: Stores) -> TargetGroup {
        KubeTargets.endpoints(
            e, service: s.services[e.key], pods: { ns, name in s.pods[ns + "/" + name] },
            node: { name in self.attachNode ? s.nodes[name] : nil })
    }

    private func sliceGroup(_ e: KubeEndpointSlice, _ s: Stores) -> TargetGroup {
        KubeTargets.endpointSlice(
            e, service: s.services[Self.serviceKey(of: e)], pods: { ns, name in s.pods[ns + "/" + name] },
            node: { name in self.attachNode ? s.nodes[name] : nil })
    }

    /// Whether any address of `e` is backed by one of `pods` (namespace/name keys).
    static func references(_ e: KubeEndpoints, _ pods: Set<String>) -> Bool {
        let ns = e.metadata.namespace ?? ""
        for subset in e.subsets ?? [] {
            for a in (subset.addresses ?? []) + (subset.notReadyAddresses ?? []) {
                if let ref = a.targetRef, ref.kind == "Pod", let name = ref.name, pods.contains((ref.namespace ?? ns) + "/" + name) {
                    return true
                }
            }
        }
        return false
    }

    static func references(_ e: KubeEndpointSlice, _ pods: Set<String>) -> Bool {
        let ns = e.metadata.namespace ?? ""
        return (e.endpoints ?? []).contains { ep in
            guard let ref = ep.targetRef, ref.kind == "Pod", let name = ref.name else { return false }
            return pods.contains((ref.namespace ?? ns) + "/" + name)
        }
    }

    /// The service an endpointslice belongs to, by its `kubernetes.io/service-name` label.
    static func serviceKey(of slice: KubeEndpointSlice) -> String {
        (slice.metadata.namespace ?? "") + "/" + (slice.metadata.labels?["kubernetes.io/service-name"] ?? "")
    }
}
