import Foundation
import Logging
import OutpostConfig
import Synchronization
import Telemetry
import Transport
import Yams

/// Where the API server is and how to authenticate to it: `api_server` with the job's HTTP
/// settings, a kubeconfig file, or the pod's own service account (in-cluster).
struct KubeClient: Sendable {
    let baseURL: String
    let settings: HTTPClientSettings
    let transport: HTTPTransport
    /// The namespace `namespaces.own_namespace` stands for.
    let ownNamespace: String?

    static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The client for `config`: explicit server, kubeconfig, or in-cluster.
    static func make(
        _ config: KubernetesSDConfig, transport: HTTPTransport, environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccount: String = serviceAccountDirectory
    ) throws(TransportError) -> KubeClient {
        if let server = config.apiServer {
            return KubeClient(
                baseURL: server, settings: try transport.settings(for: config.http), transport: transport, ownNamespace: nil)
        }
        if let file = config.kubeconfigFile {
            let k = try Kubeconfig.load(file)
            return KubeClient(baseURL: k.server, settings: try transport.settings(for: k.http), transport: transport, ownNamespace: k.namespace)
        }
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw TransportError(
                kind: .other,
                message: "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (or set api_server or kubeconfig_file)")
        }
        var http = HTTPClientConfig()
        var auth = AuthorizationConfig()
        auth.credentialsFile = serviceAccount + "/token"  // re-read when the kubelet rotates it
        http.authorization = auth
        http.tls.caFile = serviceAccount + "/ca.crt"
        let namespace = (try? String(contentsOfFile: serviceAccount + "/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let h = host.contains(":") ? "[\(host)]" : host
        return KubeClient(
            baseURL: "https://\(h):\(port)", settings: try transport.settings(for: http), transport: transport,
            ownNamespace: namespace ?? "default")
    }

    func url(_ path: String, _ query: [(String, String)]) -> String {
        let q = query.filter { !$0.1.isEmpty }.map { "\($0.0)=\(formEncode($0.1))" }.joined(separator: "&")
        return baseURL + path + (q.isEmpty ? "" : "?" + q)
    }

    static let headers = [("Accept", "application/json"), ("User-Agent", BuildInfo.userAgent)]
}
