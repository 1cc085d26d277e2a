import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Authentication and TLS end to end: nginx terminating TLS that requires a client certificate
/// (all made by `openssl` here) in front of a real Prometheus; an OAuth2 token endpoint whose
/// tokens expire and get revoked; a target that wants basic auth.
@Suite(.serialized, .tags(.endToEnd)) struct RemoteWriteAuthTests {
    /// Runs `openssl` with `args` in `dir`.
    static func openssl(_ dir: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw HarnessError("openssl \(args.joined(separator: " ")) failed") }
    }

    /// A CA, a server certificate for `receiver.test` only, and a client certificate.
    static func makeCertificates(_ dir: String) throws {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(dir, ["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=outpost test CA"])
        for (name, ext) in [
            ("server", "subjectAltName=DNS:receiver.test\nextendedKeyUsage=serverAuth\n"),
            ("client", "extendedKeyUsage=clientAuth\n"),
        ] {
            try ext.write(toFile: "\(dir)/\(name).ext", atomically: true, encoding: .utf8)
            try openssl(dir, ["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name)"])
            try openssl(
                dir,
                [
                    "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", "\(name).pem", "-days", "2", "-extfile", "\(name).ext",
                ])
        }
    }

    /// nginx on `port`, TLS with the server certificate, client certificates required (unless
    /// `clientCertificates` is false), proxying to `upstream` without buffering, so long-running
    /// streamed answers (Kubernetes watches) pass through as they are written.
    static func startNginx(dir: String, port: Int, upstream: Int, clientCertificates: Bool = true) throws -> ChildProcess {
        try FileManager.default.createDirectory(atPath: dir + "/nginx-tmp", withIntermediateDirectories: true)
        let conf = """
            \(getuid() == 0 ? "user root;" : "")
            worker_processes 1;
            daemon off;
            pid \(dir)/nginx.pid;
            error_log \(dir)/nginx-error.log;
            events { worker_connections 256; }
            http {
              access_log off;
              client_body_temp_path \(dir)/nginx-tmp;
              proxy_temp_path \(dir)/nginx-tmp;
              fastcgi_temp_path \(dir)/nginx-tmp;
              uwsgi_temp_path \(dir)/nginx-tmp;
              scgi_temp_path \(dir)/nginx-tmp;
              client_max_body_size 64m;
              server {
                listen 127.0.0.1:\(port) ssl;
                ssl_certificate \(dir)/server.pem;
                ssl_certificate_key \(dir)/server.key;
                ssl_client_certificate \(dir)/ca.pem;
                ssl_verify_client \(clientCertificates ? "on" : "off");
                location / {
                  proxy_pass http://127.0.0.1:\(upstream);
                  proxy_http_version 1.1;
                  proxy_buffering off;
                  proxy_read_timeout 1h;
                }
              }
            }
            """
        try conf.write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
        return try ChildProcess("nginx", "/usr/sbin/nginx", ["-c", dir + "/nginx.conf", "-e", dir + "/nginx-error.log"], logDir: dir)
    }

    @Test func mutualTLSWithServerNameForScrapesAndRemoteWrite() async throws {
        let dir = Harness.tempDir("mtls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.makeCertificates(dir)
        let receiverPort = Harness.freePort()
        let nginxPort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let receiver = try PrometheusReceiver(port: receiverPort, dir: dir + "/receiver")
        let receiverProcess = try receiver.start(logDir: dir)
        let nginx = try Self.startNginx(dir: dir, port: nginxPort, upstream: receiverPort)
        // Relative file names are read from the configuration file's directory.
        let tls = "{ca_file: ca.pem, cert_file: client.pem, key_file: client.key, server_name: receiver.test}"
        let config = """
            global: {scrape_interval: 500ms}
            scrape_configs:
              - job_name: through-tls
                scheme: https
                tls_config: \(tls)
                static_configs: [{targets: ["127.0.0.1:\(nginxPort)"]}]
                metric_relabel_configs: [{source_labels: [__name__], regex: prometheus_build_info, action: keep}]
            remote_write:
              - name: mtls
                url: https://127.0.0.1:\(nginxPort)/api/v1/write
                tls_config: \(tls)
                queue_config: {batch_send_deadline: 200ms}
              - name: no-client-cert
                url: https://127.0.0.1:\(nginxPort)/api/v1/write
                tls_config: {ca_file: ca.pem, server_name: receiver.test}
                queue_config: {batch_send_deadline: 200ms}
              - name: wrong-name
                url: https://127.0.0.1:\(nginxPort)/api/v1/write
                tls_config: {ca_file: ca.pem, cert_file: client.pem, key_file: client.key}
                queue_config: {batch_send_deadline: 200ms, max_backoff: 200ms}
            """
        let outpost = try Harness.startOutpost(dir: dir, port: outpostPort, config: config).process
        defer { for p in [outpost, nginx, receiverProcess] where p.isRunning { kill(p.pid, SIGKILL) } }
        try await outpost.showingLogOnFailure {
            // The scrape went through TLS with the client certificate, and its samples came back the same way.
            let up = try await Harness.eventually("scrape and write through mutual TLS") { () -> Double? in
                guard let v = receiver.query("up{job=\"through-tls\"}")?.first?.value, v == 1,
                    receiver.query("prometheus_build_info{job=\"through-tls\"}")?.count == 1
                else { return nil }
                return v
            }
            #expect(up == 1)
            // Without a client certificate nginx refuses the request (400): dropped and counted.
            let refused = try await Harness.positiveMetric(outpostPort, "prometheus_remote_storage_samples_failed_total{remote_name=\"no-client-cert\"", "refused without a client certificate")
            #expect(refused > 0)
            // Without server_name the certificate (for receiver.test) does not match 127.0.0.1: the
            // connection fails, is retried, and nothing is delivered.
            let retried = try await Harness.positiveMetric(outpostPort, "prometheus_remote_storage_samples_retried_total{remote_name=\"wrong-name\"", "wrong name retried")
            #expect(retried > 0)
            #expect(
                DurabilityTests.metric(outpostPort, "prometheus_remote_storage_bytes_total{remote_name=\"wrong-name\"") == 0)
            let status = Harness.get(port: outpostPort, path: "/status")?.body ?? ""
            #expect(status.contains("retrying after"))
        }
    }

    /// An OAuth2 token endpoint: client credentials checked, tokens numbered, valid for
    /// `lifetime` seconds, revocable.
    final class TokenEndpoint: Sendable {
        struct State {
            var issued: [String: Date] = [:]
            var revoked: Set<String> = []
            var requests: [TestHTTPServer.Request] = []
        }
        final class Shared: Sendable {
            let state = Mutex(State())
        }
        private let shared = Shared()
        /// A copy of the books.
        var snapshot: State { shared.state.withLock { $0 } }
        let lifetime: Int
        let server: TestHTTPServer

        init(lifetime: Int, clientID: String, secret: String) throws {
            self.lifetime = lifetime
            let expected = "Basic " + Data("\(clientID):\(secret)".utf8).base64EncodedString()
            let shared = self.shared
            server = try TestHTTPServer { request in
                let token = shared.state.withLock { s -> String? in
                    s.requests.append(request)
                    guard request.headers["authorization"] == expected else { return nil }
                    let token = "tok-\(s.issued.count + 1)"
                    s.issued[token] = Date()
                    return token
                }
                guard let token else { return .respond(status: 401, headers: [], body: Array("{\"error\":\"invalid_client\"}".utf8)) }
                let json = "{\"access_token\":\"\(token)\",\"token_type\":\"Bearer\",\"expires_in\":\(lifetime)}"
                return .respond(status: 200, headers: ["Content-Type: application/json"], body: Array(json.utf8))
            }
        }

        func isValid(_ authorization: String?) -> Bool {
            guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
            let token = String(authorization.dropFirst(7))
            return shared.state.withLock { s in
                guard let at = s.issued[token], !s.revoked.contains(token) else { return false }
                return Date().timeIntervalSince(at) < Double(lifetime)
            }
        }

        func revokeAll() { shared.state.withLock { s in s.revoked.formUnion(s.issued.keys) } }
    }

    @Test func oauth2TokensAreSharedRenewedAndRefetchedAfterA401AndScrapesUseBasicAuth() async throws {
        let dir = Harness.tempDir("oauth2")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let receiverPort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let receiver = try PrometheusReceiver(port: receiverPort, dir: dir + "/receiver")
        let receiverProcess = try receiver.start(logDir: dir)
        // Tokens live 13 s; Outpost renews 10 s before expiry, so about every 3 s.
        let tokens = try TokenEndpoint(lifetime: 13, clientID: "outpost", secret: "s3cr3t-value")
        defer { tokens.server.stop() }
        let receiverGate = try FaultProxy(upstreamPort: receiverPort) { _, _, headers in
            tokens.isValid(headers["authorization"]) ? .forward : .status(401, headers: [])
        }
        defer { receiverGate.stop() }
        // A target that answers only with the right basic-auth password.
        let expectedBasic = "Basic " + Data("scraper:pa55".utf8).base64EncodedString()
        let target = try TestHTTPServer { request in
            guard request.headers["authorization"] == expectedBasic else {
                return .respond(status: 401, headers: [], body: Array("unauthorized\n".utf8))
            }
            return .respond(status: 200, headers: ["Content-Type: text/plain; version=0.0.4"], body: Array("guarded 1\n".utf8))
        }
        defer { target.stop() }
        try "s3cr3t-value\n".write(toFile: dir + "/client-secret", atomically: true, encoding: .utf8)
        try "pa55\n".write(toFile: dir + "/scrape-password", atomically: true, encoding: .utf8)
        let config = """
            global: {scrape_interval: 250ms}
            scrape_configs:
              - job_name: guarded
                basic_auth: {username: scraper, password_file: scrape-password}
                static_configs: [{targets: ["127.0.0.1:\(target.port)"]}]
            remote_write:
              - name: oauth
                url: http://127.0.0.1:\(receiverGate.port)/api/v1/write
                oauth2:
                  client_id: outpost
                  client_secret_file: client-secret
                  token_url: http://127.0.0.1:\(tokens.server.port)/oauth/token
                  scopes: [metrics.write]
                  endpoint_params: {audience: observatorium}
                queue_config: {batch_send_deadline: 100ms, max_samples_per_send: 20, min_shards: 2, max_shards: 2}
            """
        let outpost = try Harness.startOutpost(dir: dir, port: outpostPort, config: config).process
        defer { for p in [outpost, receiverProcess] where p.isRunning { kill(p.pid, SIGKILL) } }
        try await outpost.showingLogOnFailure {
            _ = try await Harness.eventually("forty authorised requests") {
                receiverGate.snapshot.delivered.count > 0 && receiverGate.snapshot.requests >= 40 ? true : nil
            }
            // The server revokes every token: the next request gets a 401, Outpost fetches a new
            // token once and carries on without dropping anything.
            tokens.revokeAll()
            let issuedBefore = tokens.snapshot.issued.count
            let requestsBefore = receiverGate.snapshot.requests
            _ = try await Harness.eventually("forty more requests after the revocation") {
                receiverGate.snapshot.requests >= requestsBefore + 40 ? true : nil
            }
            // Let the token expire at least once more: renewal before expiry, not after a refusal.
            try await Task.sleep(for: .seconds(4))
            let books = receiverGate.snapshot
            let state = tokens.snapshot
            #expect(books.unauthorized >= 1, "no request was refused after the revocation")
            #expect(state.issued.count > issuedBefore)
            // Tokens are shared: far fewer token requests than write requests.
            #expect(state.requests.count * 4 < books.requests, "\(state.requests.count) token requests for \(books.requests) writes")
            let first = try #require(state.requests.first)
            let form = String(decoding: first.body, as: UTF8.self)
            #expect(form == "grant_type=client_credentials&scope=metrics.write&audience=observatorium")
            #expect(first.headers["content-type"] == "application/x-www-form-urlencoded")
            #expect(DurabilityTests.metric(outpostPort, "prometheus_remote_storage_samples_failed_total{remote_name=\"oauth\"") == 0)
            // Basic auth from a password file opened the guarded target.
            let guarded = try await Harness.eventually("guarded target scraped") { () -> Double? in
                receiver.query("guarded{job=\"guarded\"}")?.first?.value
            }
            #expect(guarded == 1)
            // No secret reached the log or the status page.
            let status = Harness.get(port: outpostPort, path: "/status")?.body ?? ""
            for secret in ["s3cr3t-value", "pa55", "tok-"] {
                #expect(!outpost.log().contains(secret), "log shows \(secret)")
                #expect(!status.contains(secret), "/status shows \(secret)")
            }
        }
    }
}
