import OutpostModel

/// Target groups from Kubernetes objects, with the labels Prometheus' Kubernetes discovery gives
/// each role (names, values and which labels appear when a field is absent). Pure functions of
/// the objects, so each role can be checked on recorded API JSON.
enum KubeTargets {
    typealias LabelList = [(String, String)]
    static let p = "__meta_kubernetes_"

    // MARK: - Shared pieces

    static func sanitize(_ name: String) -> String { sanitizeLabelName(name) }

    /// `<role>_name`, and each label and annotation with its `…present_…` twin.
    static func objectMeta(_ role: String, _ meta: KubeObjectMeta) -> LabelList {
        var out: LabelList = [(p + role + "_name", meta.name)]
        for (k, v) in (meta.labels ?? [:]).sorted(by: { $0.key < $1.key }) {
            out.append((p + role + "_label_" + sanitize(k), v))
            out.append((p + role + "_labelpresent_" + sanitize(k), "true"))
        }
        for (k, v) in (meta.annotations ?? [:]).sorted(by: { $0.key < $1.key }) {
            out.append((p + role + "_annotation_" + sanitize(k), v))
            out.append((p + role + "_annotationpresent_" + sanitize(k), "true"))
        }
        return out
    }

    /// host:port, with brackets around an IPv6 host.
    static func joinHostPort(_ host: String, _ port: Int) -> String {
        (host.contains(":") ? "[\(host)]" : host) + ":" + String(port)
    }

    static func bool(_ b: Bool) -> String { b ? "true" : "false" }

    private static func empty(_ source: String) -> TargetGroup { TargetGroup(source: source, targets: [], labels: []) }

    // MARK: - Removals

    static func removed(pod: KubePod) -> TargetGroup { empty("pod/" + pod.key) }
    static func removed(service: KubeService) -> TargetGroup { empty("svc/" + service.key) }
    static func removed(endpoints: KubeEndpoints) -> TargetGroup { empty("endpoints/" + endpoints.key) }
    static func removed(slice: KubeEndpointSlice) -> TargetGroup { empty("endpointslice/" + slice.key) }
    static func removed(node: KubeNode) -> TargetGroup { empty("node/" + node.metadata.name) }

    // MARK: - pod

    /// The labels that describe a pod, shared by the pod, endpoints and endpointslice roles.
    static func podLabels(_ pod: KubePod) -> LabelList {
        let ready = pod.status.conditions?.first { $0.type == "Ready" }?.status.lowercased() ?? "unknown"
        var out: LabelList = [
            (p + "pod_ip", pod.status.podIP ?? ""),
            (p + "pod_ready", ready),
            (p + "pod_phase", pod.status.phase ?? ""),
            (p + "pod_node_name", pod.spec.nodeName ?? ""),
            (p + "pod_host_ip", pod.status.hostIP ?? ""),
            (p + "pod_uid", pod.metadata.uid ?? ""),
        ]
        out += objectMeta("pod", pod.metadata)
        if let owner = pod.metadata.ownerReferences?.first(where: { $0.controller == true }) {
            if !owner.kind.isEmpty { out.append((p + "pod_controller_kind", owner.kind)) }
            if !owner.name.isEmpty { out.append((p + "pod_controller_name", owner.name)) }
        }
        return out
    }

    /// Containers, then init containers, each with whether it is an init container.
    static func containers(_ pod: KubePod) -> [(KubePod.Container, Bool)] {
        pod.spec.containers.map { ($0, false) } + (pod.spec.initContainers ?? []).map { ($0, true) }
    }

    /// One group per pod: a target per container port (a container without ports: one target at
    /// the pod IP). A pod without an IP yet, or (with `attach_metadata.node`) on an unknown node,
    /// has none.
    static func pod(_ pod: KubePod, node: KubeNode?, attachNode: Bool = false) -> TargetGroup {
        let source = "pod/" + pod.key
        guard let ip = pod.status.podIP, !ip.isEmpty else { return empty(source) }
        if attachNode && node == nil { return empty(source) }
        var labels = podLabels(pod) + [(p + "namespace", pod.metadata.namespace ?? "")]
        if let node { labels += objectMeta("node", node.metadata) }
        var targets: [LabelList] = []
        for (c, isInit) in containers(pod) {
            let statuses = isInit ? pod.status.initContainerStatuses : pod.status.containerStatuses
            let id = statuses?.first { $0.name == c.name }?.containerID ?? ""
            let common: LabelList = [
                (p + "pod_container_name", c.name), (p + "pod_container_id", id),
                (p + "pod_container_image", c.image ?? ""), (p + "pod_container_init", bool(isInit)),
            ]
            guard let ports = c.ports, !ports.isEmpty else {
                targets.append([("__address__", ip)] + common)
                continue
            }
            for port in ports {
                targets.append(
                    [("__address__", joinHostPort(ip, port.containerPort))] + common + [
                        (p + "pod_container_port_number", String(port.containerPort)),
                        (p + "pod_container_port_name", port.name ?? ""),
                        (p + "pod_container_port_protocol", port.protocol ?? ""),
                    ])
            }
        }
        return TargetGroup(source: source, targets: targets, labels: labels)
    }

    // MARK: - service

    /// The service labels endpoints and endpointslice targets carry.
    static func serviceLabels(_ svc: KubeService) -> LabelList {
        [(p + "namespace", svc.metadata.namespace ?? "")] + objectMeta("service", svc.metadata)
    }

    /// One target per service port, addressed by the service's DNS name.
    static func service(_ svc: KubeService) -> TargetGroup {
        let ns = svc.metadata.namespace ?? ""
        var targets: [LabelList] = []
        for port in svc.spec.ports ?? [] {
            var t: LabelList = [
                ("__address__", "\(svc.metadata.name).\(ns).svc:\(port.port)"),
                (p + "service_port_name", port.name ?? ""),
                (p + "service_port_number", String(port.port)),
                (p + "service_port_protocol", port.protocol ?? ""),
                (p + "service_type", svc.spec.type ?? ""),
            ]
            if svc.spec.type == "ExternalName" {
                t.append((p + "service_external_name", svc.spec.externalName ?? ""))
            } else {
                t.append((p + "service_cluster_ip", svc.spec.clusterIP ?? ""))
            }
            if svc.spec.type == "LoadBalancer" {
                let ips = (svc.status?.loadBalancer?.ingress ?? []).compactMap(\.ip).filter { !$0.isEmpty }
                t.append((p + "service_loadbalancer_ip", ips.isEmpty ? (svc.spec.loadBalancerIP ?? "") : ips.joined(separator: ",")))
            }
            targets.append(t)
        }
        return TargetGroup(source: "svc/" + svc.key, targets: targets, labels: serviceLabels(svc))
    }

    // MARK: - endpoints and endpointslice

    /// Adds the pod's labels and those of its container exposing `port` (the last such container,
    /// containers before init containers) to a pod-backed target.
    private static func addPod(
        _ pod: KubePod, port: Int?, protocol endpointProtocol: String??, to t: inout LabelList
    ) {
        t += podLabels(pod)
        guard let port else { return }
        var match: (KubePod.Container, KubePod.ContainerPort, Bool)? = nil
        for (c, isInit) in containers(pod) {
            if let cp = c.ports?.first(where: { $0.containerPort == port }) { match = (c, cp, isInit) }
        }
        guard let (c, cp, isInit) = match else { return }
        // The endpoints role reports the endpoint port's protocol; endpointslice the container's.
        let proto = endpointProtocol.map { $0 ?? "" } ?? (cp.protocol ?? "")
        t += [
            (p + "pod_container_name", c.name), (p + "pod_container_image", c.image ?? ""),
            (p + "pod_container_port_name", cp.name ?? ""), (p + "pod_container_port_number", String(cp.containerPort)),
            (p + "pod_container_port_protocol", proto), (p + "pod_container_init", bool(isInit)),
        ]
    }

    /// Targets for the container ports of `pods` that no endpoint port covered.
    private static func uncoveredPorts(_ pods: [(KubePod, Set<Int>)]) -> [LabelList] {
        var out: [LabelList] = []
        for (pod, covered) in pods {
            guard let ip = pod.status.podIP, !ip.isEmpty else { continue }
            for (c, isInit) in containers(pod) {
                for cp in c.ports ?? [] where !covered.contains(cp.containerPort) {
                    out.append(
                        [("__address__", joinHostPort(ip, cp.containerPort))] + [
                            (p + "pod_container_name", c.name), (p + "pod_container_image", c.image ?? ""),
                            (p + "pod_container_port_name", cp.name ?? ""),
                            (p + "pod_container_port_number", String(cp.containerPort)),
                            (p + "pod_container_port_protocol", cp.protocol ?? ""), (p + "pod_container_init", bool(isInit)),
                        ] + podLabels(pod))
                }
            }
        }
        return out
    }

    /// Records `pod` as seen with `port` covered, keeping first-seen order.
    private static func see(_ pod: KubePod, _ port: Int?, in seen: inout [(KubePod, Set<Int>)]) {
        if let i = seen.firstIndex(where: { $0.0.key == pod.key }) {
            if let port { seen[i].1.insert(port) }
        } else {
            seen.append((pod, port.map { [$0] } ?? []))
        }
    }

    /// One target per address and port of each subset (ready addresses, then not-ready ones),
    /// plus one per container port of the backing pods that no endpoint port covers.
    static func endpoints(
        _ e: KubeEndpoints, service: KubeService?, pods: (String, String) -> KubePod?, node: (String) -> KubeNode?
    ) -> TargetGroup {
        var labels: LabelList = [(p + "namespace", e.metadata.namespace ?? "")]
        if let service { labels = merge(labels, serviceLabels(service)) }
        labels = merge(labels, objectMeta("endpoints", e.metadata))
        var targets: [LabelList] = []
        var seen: [(KubePod, Set<Int>)] = []
        for subset in e.subsets ?? [] {
            for port in subset.ports ?? [] {
                let addresses = (subset.addresses ?? []).map { ($0, true) } + (subset.notReadyAddresses ?? []).map { ($0, false) }
                for (a, ready) in addresses {
                    var t: LabelList = [
                        ("__address__", joinHostPort(a.ip, port.port)),
                        (p + "endpoint_port_name", port.name ?? ""),
                        (p + "endpoint_port_protocol", port.protocol ?? ""),
                        (p + "endpoint_ready", bool(ready)),
                    ]
                    if let ref = a.targetRef {
                        t.append((p + "endpoint_address_target_kind", ref.kind ?? ""))
                        t.append((p + "endpoint_address_target_name", ref.name ?? ""))
                    }
                    if let n = a.nodeName { t.append((p + "endpoint_node_name", n)) }
                    if let h = a.hostname, !h.isEmpty { t.append((p + "endpoint_hostname", h)) }
                    let nodeName = a.nodeName ?? (a.targetRef?.kind == "Node" ? a.targetRef?.name : nil)
                    if let nodeName, let n = node(nodeName) { t += objectMeta("node", n.metadata) }
                    if let ref = a.targetRef, ref.kind == "Pod", let name = ref.name,
                        let pod = pods(ref.namespace ?? e.metadata.namespace ?? "", name)
                    {
                        see(pod, port.port, in: &seen)
                        addPod(pod, port: port.port, protocol: .some(port.protocol), to: &t)
                    }
                    targets.append(t)
                }
            }
        }
        targets += uncoveredPorts(seen)
        return TargetGroup(source: "endpoints/" + e.key, targets: targets, labels: labels)
    }

    /// One target per endpoint, port and address of the slice, plus the backing pods' uncovered
    /// container ports. A dual-stack service's slice of its secondary address family has none.
    static func endpointSlice(
        _ e: KubeEndpointSlice, service: KubeService?, pods: (String, String) -> KubePod?, node: (String) -> KubeNode?
    ) -> TargetGroup {
        var labels: LabelList = [
            (p + "namespace", e.metadata.namespace ?? ""), (p + "endpointslice_address_type", e.addressType ?? ""),
        ]
        labels = merge(labels, objectMeta("endpointslice", e.metadata))
        if let service { labels = merge(labels, serviceLabels(service)) }
        let source = "endpointslice/" + e.key
        if let service, ["PreferDualStack", "RequireDualStack"].contains(service.spec.ipFamilyPolicy ?? ""),
            let primary = service.spec.ipFamilies?.first, e.addressType != primary
        {
            return TargetGroup(source: source, targets: [], labels: labels)
        }
        var targets: [LabelList] = []
        var seen: [(KubePod, Set<Int>)] = []
        let ports = e.ports ?? []
        for ep in e.endpoints ?? [] {
            for port in ports {
                for address in ep.addresses {
                    var t: LabelList = [("__address__", port.port.map { joinHostPort(address, $0) } ?? address)]
                    if let v = port.name { t.append((p + "endpointslice_port_name", v)) }
                    if let v = port.protocol { t.append((p + "endpointslice_port_protocol", v)) }
                    if let v = port.port { t.append((p + "endpointslice_port", String(v))) }
                    if let v = port.appProtocol { t.append((p + "endpointslice_port_app_protocol", v)) }
                    if let v = ep.conditions?.ready { t.append((p + "endpointslice_endpoint_conditions_ready", bool(v))) }
                    if let v = ep.conditions?.serving { t.append((p + "endpointslice_endpoint_conditions_serving", bool(v))) }
                    if let v = ep.conditions?.terminating {
                        t.append((p + "endpointslice_endpoint_conditions_terminating", bool(v)))
                    }
                    if let v = ep.hostname { t.append((p + "endpointslice_endpoint_hostname", v)) }
                    if let v = ep.nodeName { t.append((p + "endpointslice_endpoint_node_name", v)) }
                    if let v = ep.zone { t.append((p + "endpointslice_endpoint_zone", v)) }
                    if let ref = ep.targetRef {
                        t.append((p + "endpointslice_address_target_kind", ref.kind ?? ""))
                        t.append((p + "endpointslice_address_target_name", ref.name ?? ""))
                    }
                    for (k, v) in (ep.deprecatedTopology ?? [:]).sorted(by: { $0.key < $1.key }) {
                        t.append((p + "endpointslice_endpoint_topology_" + sanitize(k), v))
                        t.append((p + "endpointslice_endpoint_topology_present_" + sanitize(k), "true"))
                    }
                    let nodeName = ep.targetRef?.kind == "Node" ? ep.targetRef?.name : ep.nodeName
                    if let nodeName, let n = node(nodeName) { t += objectMeta("node", n.metadata) }
                    if let ref = ep.targetRef, ref.kind == "Pod", let name = ref.name,
                        let pod = pods(ref.namespace ?? e.metadata.namespace ?? "", name)
                    {
                        see(pod, port.port, in: &seen)
                        addPod(pod, port: port.port, protocol: nil, to: &t)
                    }
                    targets.append(t)
                }
            }
        }
        targets += uncoveredPorts(seen)
        return TargetGroup(source: source, targets: targets, labels: labels)
    }

    // MARK: - node

    static let nodeAddressOrder = ["InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"]

    /// The node's kubelet, at its preferred address; nil (keep what was sent) when it has none.
    static func node(_ n: KubeNode) -> TargetGroup? {
        let addresses = n.status.addresses ?? []
        guard let host = nodeAddressOrder.lazy.compactMap({ type in addresses.first { $0.type == type }?.address }).first else {
            return nil
        }
        var labels: LabelList = [(p + "node_provider_id", n.spec?.providerID ?? "")]
        var conditions: [String: String] = [:]
        for c in n.status.conditions ?? [] { conditions[sanitize(c.type.lowercased())] = c.status.lowercased() }
        for (k, v) in conditions.sorted(by: { $0.key < $1.key }) { labels.append((p + "node_condition_" + k, v)) }
        labels += objectMeta("node", n.metadata)
        var target: LabelList = [
            ("__address__", joinHostPort(host, n.status.daemonEndpoints?.kubeletEndpoint?.Port ?? 0)),
            ("instance", n.metadata.name),
        ]
        var types: [String] = []
        for a in addresses where !types.contains(a.type) {
            types.append(a.type)
            target.append((p + "node_address_" + sanitize(a.type), a.address))
        }
        return TargetGroup(source: "node/" + n.metadata.name, targets: [target], labels: labels)
    }

    /// `base` with `extra` added, a name in both taking `extra`'s value.
    static func merge(_ base: LabelList, _ extra: LabelList) -> LabelList {
        var out = base
        for (k, v) in extra {
            if let i = out.firstIndex(where: { $0.0 == k }) { out[i].1 = v } else { out.append((k, v)) }
        }
        return out
    }
}
