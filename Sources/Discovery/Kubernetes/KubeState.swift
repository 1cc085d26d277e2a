import OutpostConfig
import Synchronization

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
