import Foundation
import OutpostConfig
import Transport
import Yams

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
