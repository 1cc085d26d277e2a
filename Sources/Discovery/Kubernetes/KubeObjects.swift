import Foundation

// The parts of Kubernetes API objects that discovery reads, decoded from the API server's JSON.
// Every field the API may omit is optional; unknown fields are ignored.

struct KubeOwnerReference: Decodable, Sendable, Equatable {
    var kind: String
    var name: String
    var controller: Bool?
}

struct KubeObjectMeta: Decodable, Sendable, Equatable {
    var name: String = ""
    var namespace: String?
    var uid: String?
    var resourceVersion: String?
    var labels: [String: String]?
    var annotations: [String: String]?
    var ownerReferences: [KubeOwnerReference]?
    var deletionTimestamp: String?

    init() {}
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        namespace = try c.decodeIfPresent(String.self, forKey: .namespace)
        uid = try c.decodeIfPresent(String.self, forKey: .uid)
        resourceVersion = try c.decodeIfPresent(String.self, forKey: .resourceVersion)
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels)
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations)
        ownerReferences = try c.decodeIfPresent([KubeOwnerReference].self, forKey: .ownerReferences)
        deletionTimestamp = try c.decodeIfPresent(String.self, forKey: .deletionTimestamp)
    }
    enum CodingKeys: String, CodingKey {
        case name, namespace, uid, resourceVersion, labels, annotations, ownerReferences, deletionTimestamp
    }
}

/// An object discovery watches: its metadata names it.
protocol KubeObject: Decodable, Sendable, Equatable {
    var metadata: KubeObjectMeta { get }
    /// The API collection, e.g. `pods` under `/api/v1`.
    static var resource: KubeResource { get }
}

extension KubeObject {
    /// `namespace/name`, or `name` for cluster-scoped objects.
    var key: String {
        if let ns = metadata.namespace, !ns.isEmpty { return ns + "/" + metadata.name }
        return metadata.name
    }
}

/// Where a collection lives in the API.
struct KubeResource: Sendable {
    var group: String  // "" for the core group
    var version: String
    var plural: String
    var namespaced: Bool

    /// The collection's path, in one namespace or across all.
    func path(namespace: String?) -> String {
        let base = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { return "\(base)/namespaces/\(namespace)/\(plural)" }
        return "\(base)/\(plural)"
    }
}

/// A port given as a number or a name (`targetPort`).
enum IntOrString: Decodable, Sendable, Equatable {
    case int(Int)
    case string(String)
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else {
            self = .string(try c.decode(String.self))
        }
    }
}

struct KubePod: KubeObject {
    static let resource = KubeResource(group: "", version: "v1", plural: "pods", namespaced: true)
    var metadata = KubeObjectMeta()
    var spec = Spec()
    var status = Status()

    struct ContainerPort: Decodable, Sendable, Equatable {
        var name: String?
        var containerPort: Int
        var `protocol`: String?
    }
    struct Container: Decodable, Sendable, Equatable {
        var name: String
        var image: String?
        var ports: [ContainerPort]?
    }
    struct Spec: Decodable, Sendable, Equatable {
        var nodeName: String?
        var containers: [Container] = []
        var initContainers: [Container]?
        init() {}
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            nodeName = try c.decodeIfPresent(String.self, forKey: .nodeName)
            containers = try c.decodeIfPresent([Container].self, forKey: .containers) ?? []
            initContainers = try c.decodeIfPresent([Container].self, forKey: .initContainers)
        }
        enum CodingKeys: String, CodingKey { case nodeName, containers, initContainers }
    }
    struct Condition: Decodable, Sendable, Equatable {
        var type: String
        var status: String
    }
    struct ContainerStatus: Decodable, Sendable, Equatable {
        var name: String
        var containerID: String?
    }
    struct Status: Decodable, Sendable, Equatable {
        var phase: String?
        var podIP: String?
        var hostIP: String?
        var conditions: [Condition]?
        var containerStatuses: [ContainerStatus]?
        var initContainerStatuses: [ContainerStatus]?
        init() {}
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(KubeObjectMeta.self, forKey: .metadata) ?? KubeObjectMeta()
        spec = try c.decodeIfPresent(Spec.self, forKey: .spec) ?? Spec()
        status = try c.decodeIfPresent(Status.self, forKey: .status) ?? Status()
    }
    enum CodingKeys: String, CodingKey { case metadata, spec, status }
}

struct KubeService: KubeObject {
    static let resource = KubeResource(group: "", version: "v1", plural: "services", namespaced: true)
    var metadata = KubeObjectMeta()
    var spec = Spec()
    var status: Status?

    struct Port: Decodable, Sendable, Equatable {
        var name: String?
        var port: Int
        var `protocol`: String?
        var targetPort: IntOrString?
        var nodePort: Int?
    }
    struct Spec: Decodable, Sendable, Equatable {
        var ports: [Port]?
        var clusterIP: String?
        var type: String?
        var externalName: String?
        var externalIPs: [String]?
        var selector: [String: String]?
        var loadBalancerIP: String?
        var ipFamilyPolicy: String?
        var ipFamilies: [String]?
        init() {}
    }
    struct Ingress: Decodable, Sendable, Equatable {
        var ip: String?
        var hostname: String?
    }
    struct LoadBalancer: Decodable, Sendable, Equatable { var ingress: [Ingress]? }
    struct Status: Decodable, Sendable, Equatable { var loadBalancer: LoadBalancer? }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(KubeObjectMeta.self, forKey: .metadata) ?? KubeObjectMeta()
        spec = try c.decodeIfPresent(Spec.self, forKey: .spec) ?? Spec()
        status = try c.decodeIfPresent(Status.self, forKey: .status)
    }
    enum CodingKeys: String, CodingKey { case metadata, spec, status }
}

struct KubeObjectReference: Decodable, Sendable, Equatable {
    var kind: String?
    var name: String?
    var namespace: String?
}

struct KubeEndpoints: KubeObject {
    static let resource = KubeResource(group: "", version: "v1", plural: "endpoints", namespaced: true)
    var metadata = KubeObjectMeta()
    var subsets: [Subset]?

    struct Address: Decodable, Sendable, Equatable {
        var ip: String
        var hostname: String?
        var nodeName: String?
        var targetRef: KubeObjectReference?
    }
    struct Port: Decodable, Sendable, Equatable {
        var name: String?
        var port: Int
        var `protocol`: String?
        var appProtocol: String?
    }
    struct Subset: Decodable, Sendable, Equatable {
        var addresses: [Address]?
        var notReadyAddresses: [Address]?
        var ports: [Port]?
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(KubeObjectMeta.self, forKey: .metadata) ?? KubeObjectMeta()
        subsets = try c.decodeIfPresent([Subset].self, forKey: .subsets)
    }
    enum CodingKeys: String, CodingKey { case metadata, subsets }
}

struct KubeEndpointSlice: KubeObject {
    static let resource = KubeResource(group: "discovery.k8s.io", version: "v1", plural: "endpointslices", namespaced: true)
    var metadata = KubeObjectMeta()
    var addressType: String?
    var endpoints: [Endpoint]?
    var ports: [Port]?

    struct Conditions: Decodable, Sendable, Equatable {
        var ready: Bool?
        var serving: Bool?
        var terminating: Bool?
    }
    struct ForZone: Decodable, Sendable, Equatable { var name: String }
    struct Hints: Decodable, Sendable, Equatable { var forZones: [ForZone]? }
    struct Endpoint: Decodable, Sendable, Equatable {
        var addresses: [String] = []
        var conditions: Conditions?
        var hostname: String?
        var nodeName: String?
        var zone: String?
        var targetRef: KubeObjectReference?
        var hints: Hints?
        var deprecatedTopology: [String: String]?
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            addresses = try c.decodeIfPresent([String].self, forKey: .addresses) ?? []
            conditions = try c.decodeIfPresent(Conditions.self, forKey: .conditions)
            hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
            nodeName = try c.decodeIfPresent(String.self, forKey: .nodeName)
            zone = try c.decodeIfPresent(String.self, forKey: .zone)
            targetRef = try c.decodeIfPresent(KubeObjectReference.self, forKey: .targetRef)
            hints = try c.decodeIfPresent(Hints.self, forKey: .hints)
            deprecatedTopology = try c.decodeIfPresent([String: String].self, forKey: .deprecatedTopology)
        }
        enum CodingKeys: String, CodingKey {
            case addresses, conditions, hostname, nodeName, zone, targetRef, hints, deprecatedTopology
        }
    }
    struct Port: Decodable, Sendable, Equatable {
        var name: String?
        var port: Int?
        var `protocol`: String?
        var appProtocol: String?
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(KubeObjectMeta.self, forKey: .metadata) ?? KubeObjectMeta()
        addressType = try c.decodeIfPresent(String.self, forKey: .addressType)
        endpoints = try c.decodeIfPresent([Endpoint].self, forKey: .endpoints)
        ports = try c.decodeIfPresent([Port].self, forKey: .ports)
    }
    enum CodingKeys: String, CodingKey { case metadata, addressType, endpoints, ports }
}

struct KubeNode: KubeObject {
    static let resource = KubeResource(group: "", version: "v1", plural: "nodes", namespaced: false)
    var metadata = KubeObjectMeta()
    var spec: Spec?
    var status = Status()

    struct Spec: Decodable, Sendable, Equatable { var providerID: String? }
    struct Address: Decodable, Sendable, Equatable {
        var type: String
        var address: String
    }
    struct KubeletEndpoint: Decodable, Sendable, Equatable {
        var Port: Int?  // the API spells it with a capital P
    }
    struct DaemonEndpoints: Decodable, Sendable, Equatable { var kubeletEndpoint: KubeletEndpoint? }
    struct Condition: Decodable, Sendable, Equatable {
        var type: String
        var status: String
    }
    struct Status: Decodable, Sendable, Equatable {
        var addresses: [Address]?
        var daemonEndpoints: DaemonEndpoints?
        var conditions: [Condition]?
        init() {}
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(KubeObjectMeta.self, forKey: .metadata) ?? KubeObjectMeta()
        spec = try c.decodeIfPresent(Spec.self, forKey: .spec)
        status = try c.decodeIfPresent(Status.self, forKey: .status) ?? Status()
    }
    enum CodingKeys: String, CodingKey { case metadata, spec, status }
}

/// A list response: the items and the version to watch from.
struct KubeList<T: KubeObject>: Decodable {
    struct Meta: Decodable { var resourceVersion: String? }
    var metadata: Meta?
    var items: [T]?
}

/// One line of a watch stream.
struct KubeWatchEvent<T: KubeObject>: Decodable {
    var type: String
    var object: T?
    /// For `ERROR` events: the Status object's code and message.
    var errorCode: Int?
    var errorMessage: String?
    var bookmarkVersion: String?

    struct StatusObject: Decodable {
        var code: Int?
        var message: String?
        var reason: String?
    }
    struct BookmarkObject: Decodable {
        struct Meta: Decodable { var resourceVersion: String? }
        var metadata: Meta?
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        switch type {
        case "ERROR":
            let s = try c.decode(StatusObject.self, forKey: .object)
            errorCode = s.code
            errorMessage = s.message ?? s.reason
        case "BOOKMARK":
            bookmarkVersion = try c.decode(BookmarkObject.self, forKey: .object).metadata?.resourceVersion
        default:
            object = try c.decode(T.self, forKey: .object)
        }
    }
    enum CodingKeys: String, CodingKey { case type, object }
}
