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

/// The parts of a kubeconfig file a client needs: the current context's cluster and user.
struct Kubeconfig {
    var server: String
    var http: HTTPClientConfig
    var namespace: String?

    static func load(_ path: String) throws(TransportError) -> Kubeconfig {
        func fail(_ message: String) -> TransportError {
            TransportError(kind: .other, message: "kubeconfig \(path): \(message)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw fail("cannot read file") }
        let root: [String: Any]
        do {
            guard let r = try Yams.load(yaml: text) as? [String: Any] else { throw fail("not a kubeconfig mapping") }
            root = r
        } catch let e as TransportError {
            throw e
        } catch {
            throw fail("invalid YAML: \(error)")
        }
        func named(_ list: String, _ name: String, _ field: String) -> [String: Any]? {
            let items = root[list] as? [[String: Any]] ?? []
            return items.first { ($0["name"] as? String) == name }?[field] as? [String: Any]
        }
        guard let current = root["current-context"] as? String, !current.isEmpty else { throw fail("no current-context") }
        guard let context = named("contexts", current, "context") else { throw fail("context \"\(current)\" not found") }
        guard let clusterName = context["cluster"] as? String, let cluster = named("clusters", clusterName, "cluster"),
            let server = cluster["server"] as? String
        else { throw fail("cluster of context \"\(current)\" not found or has no server") }
        let dir = path.contains("/") ? String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) : "."
        func file(_ p: String) -> String { p.hasPrefix("/") ? p : dir + "/" + p }
        func base64(_ s: String) throws(TransportError) -> String {
            guard let d = Data(base64Encoded: s) else { throw fail("invalid base64 data") }
            return String(decoding: d, as: UTF8.self)
        }
        var http = HTTPClientConfig()
        if let ca = cluster["certificate-authority"] as? String { http.tls.caFile = file(ca) }
        if let ca = cluster["certificate-authority-data"] as? String { http.tls.ca = try base64(ca) }
        if let skip = cluster["insecure-skip-tls-verify"] as? Bool { http.tls.insecureSkipVerify = skip }
        if let name = cluster["tls-server-name"] as? String { http.tls.serverName = name }
        if let proxy = cluster["proxy-url"] as? String { http.proxyURL = proxy }
        if let userName = context["user"] as? String, let user = named("users", userName, "user") {
            if user["exec"] != nil || user["auth-provider"] != nil {
                throw fail("user \"\(userName)\" uses an exec or auth-provider plugin, which Outpost does not run; use a token, tokenFile or client certificate")
            }
            if let cert = user["client-certificate"] as? String { http.tls.certFile = file(cert) }
            if let cert = user["client-certificate-data"] as? String { http.tls.cert = try base64(cert) }
            if let key = user["client-key"] as? String { http.tls.keyFile = file(key) }
            if let key = user["client-key-data"] as? String { http.tls.key = Secret(try base64(key)) }
            if let token = user["token"] as? String {
                var a = AuthorizationConfig()
                a.credentials = Secret(token)
                http.authorization = a
            } else if let tokenFile = user["tokenFile"] as? String {
                var a = AuthorizationConfig()
                a.credentialsFile = file(tokenFile)
                http.authorization = a
            } else if let name = user["username"] as? String {
                var b = BasicAuth()
                b.username = name
                b.password = (user["password"] as? String).map(Secret.init)
                http.basicAuth = b
            }
        }
        let server0 = server.hasSuffix("/") ? String(server.dropLast()) : server
        return Kubeconfig(server: server0, http: http, namespace: context["namespace"] as? String)
    }
}

/// A change to one watched collection.
enum KubeChange<T: KubeObject>: Sendable {
    /// A fresh list: the collection is exactly these objects.
    case replace([T])
    case upsert(T)
    case delete(T)
}

/// Lists one collection and then watches it from the list's resource version, as client-go's
/// reflector does: a watch that ends is resumed from the last version seen (bookmarks keep it
/// fresh); a `410 Gone` or an expired version lists again; errors back off from 0.8 s to 30 s.
struct KubeInformer<T: KubeObject>: Sendable {
    let client: KubeClient
    let namespace: String?
    let labelSelector: String
    let fieldSelector: String
    let logger: Logger
    let failures: CounterMetric
    let events: @Sendable (String) -> CounterMetric
    /// Reports the latest error ("" after a successful list) for `/status`.
    let report: @Sendable (String) -> Void

    func run(_ handle: @escaping @Sendable (KubeChange<T>) -> Void) async {
        let path = T.resource.path(namespace: namespace)
        var backoff: Duration = .milliseconds(800)
        let decoder = JSONDecoder()
        while !Task.isCancelled {
            do {
                let version = try await list(path, decoder, handle)
                backoff = .milliseconds(800)
                report("")
                try await watch(path, from: version, decoder, handle)
            } catch {
                if Task.isCancelled { return }
                failures.increment()
                report(error.description)
                logger.warning(
                    "kubernetes list/watch failed, retrying", metadata: ["resource": "\(T.resource.plural)", "err": "\(error)"])
                // Jittered, as client-go's backoff manager: between the delay and twice it.
                let jitter = Double.random(in: 1...2)
                try? await Task.sleep(for: backoff * jitter)
                backoff = min(backoff * 2, .seconds(30))
            }
        }
    }

    private func list(
        _ path: String, _ decoder: JSONDecoder, _ handle: @Sendable (KubeChange<T>) -> Void
    ) async throws(DiscoveryError) -> String {
        let url = client.url(path, [("labelSelector", labelSelector), ("fieldSelector", fieldSelector)])
        let result: HTTPResult
        do {
            result = try await client.transport.get(
                url: url, headers: KubeClient.headers, timeout: .seconds(60), bodyLimit: 0, settings: client.settings)
        } catch {
            throw DiscoveryError(error.message)
        }
        guard result.status == 200 else {
            throw DiscoveryError("listing \(T.resource.plural): HTTP \(result.status): \(Self.reason(result.body.prefixString(512)))")
        }
        let list: KubeList<T>
        do {
            list = try result.body.withUnsafeBytes { try decoder.decode(KubeList<T>.self, from: Data($0)) }
        } catch {
            throw DiscoveryError("listing \(T.resource.plural): cannot decode the response: \(error)")
        }
        handle(.replace(list.items ?? []))
        return list.metadata?.resourceVersion ?? ""
    }

    /// Watches until the version expires (returns, so the caller lists again) or fails (throws).
    private func watch(
        _ path: String, from start: String, _ decoder: JSONDecoder, _ handle: @escaping @Sendable (KubeChange<T>) -> Void
    ) async throws(DiscoveryError) {
        let version = Mutex(start)
        let gone = Mutex(false)
        let failure = Mutex<String?>(nil)
        while !Task.isCancelled {
            // Like client-go: each watch asks the server to end it after 5–10 minutes.
            let seconds = Int.random(in: 300...600)
            let url = client.url(
                path,
                [
                    ("labelSelector", labelSelector), ("fieldSelector", fieldSelector), ("watch", "true"),
                    ("allowWatchBookmarks", "true"), ("resourceVersion", version.withLock { $0 }),
                    ("timeoutSeconds", String(seconds)),
                ])
            let events = events
            let status: Int
            let started = ContinuousClock.now
            let seen = Mutex(0)
            do {
                status = try await client.transport.streamLines(
                    url: url, headers: KubeClient.headers, timeout: .seconds(seconds + 30), settings: client.settings
                ) { line in
                    seen.withLock { $0 += 1 }
                    let event: KubeWatchEvent<T>
                    do {
                        event = try decoder.decode(KubeWatchEvent<T>.self, from: Data(line))
                    } catch {
                        // An event we cannot read would leave the picture wrong: stop and list again.
                        failure.withLock { $0 = "an event could not be decoded (\(error))" }
                        return false
                    }
                    // Prometheus' names for informer events.
                    if let name = ["ADDED": "add", "MODIFIED": "update", "DELETED": "delete"][event.type] {
                        events(name).increment()
                    }
                    switch event.type {
                    case "ADDED", "MODIFIED":
                        if let o = event.object { handle(.upsert(o)) }
                    case "DELETED":
                        if let o = event.object { handle(.delete(o)) }
                    case "BOOKMARK":
                        break
                    case "ERROR":
                        if event.errorCode == 410 {
                            gone.withLock { $0 = true }
                        } else {
                            failure.withLock { $0 = "the server ended the watch: \(event.errorMessage ?? "code \(event.errorCode ?? 0)")" }
                        }
                        return false
                    default:
                        return true
                    }
                    let v = event.object?.metadata.resourceVersion ?? event.bookmarkVersion
                    if let v, !v.isEmpty { version.withLock { $0 = v } }
                    return true
                }
            } catch {
                throw DiscoveryError(error.message)
            }
            if status == 410 || gone.withLock({ $0 }) { return }  // expired: list again
            if let problem = failure.withLock({ $0 }) {
                throw DiscoveryError("watching \(T.resource.plural): \(problem)")
            }
            guard status == 200 else {
                throw DiscoveryError("watching \(T.resource.plural): HTTP \(status)")
            }
            // A watch that ends at once without a single event is an error (as client-go
            // treats it), so a server that keeps closing watches is not called in a tight loop.
            if seen.withLock({ $0 }) == 0 && ContinuousClock.now - started < .seconds(1) {
                throw DiscoveryError("watching \(T.resource.plural): the server closed the watch at once")
            }
        }
    }

    /// The `message` of a Kubernetes Status body, or the text itself.
    static func reason(_ body: String) -> String {
        if let s = try? JSONDecoder().decode(KubeStatusMessage.self, from: Data(body.utf8)), let m = s.message { return m }
        return body
    }
}

/// The message of a Kubernetes `Status` error body.
struct KubeStatusMessage: Decodable { var message: String? }
