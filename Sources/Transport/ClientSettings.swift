import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import NIOSSL
import OutpostConfig
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One scrape job's or remote-write endpoint's way of reaching its servers, built once from its
/// ``HTTPClientConfig`` by ``HTTPTransport/settings(for:)`` and applied to every request: the
/// `Authorization` header (basic, bearer / credentials file, OAuth2 client credentials), the TLS
/// configuration (CA, client certificate, server name, versions), and the client that carries
/// the proxy, redirect and HTTP/2 choices. Files are re-read when they change on disk, so rotated
/// tokens and certificates take effect without a restart.
public final class HTTPClientSettings: Sendable {
    public let config: HTTPClientConfig
    private let tls: TLSSource?
    private let authorization: Authorizer?
    private let sigv4: (signer: SigV4Signer, credentials: SigV4Credentials)?

    init(config: HTTPClientConfig, transport: HTTPTransport) throws(TransportError) {
        self.config = config
        tls = config.tls.isDefault ? nil : TLSSource(config.tls)
        // Build once so a bad file or key is reported when the config is applied, not at the first request.
        _ = try tls?.configuration()
        authorization = Authorizer(config, transport: transport)
        if let v = config.sigv4 {
            let env = ProcessInfo.processInfo.environment
            let region = v.region.isEmpty ? env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? "" : v.region
            guard !region.isEmpty else {
                throw TransportError(kind: .other, message: "sigv4: no region given and none in AWS_REGION or AWS_DEFAULT_REGION")
            }
            sigv4 = (SigV4Signer(region: region), SigV4Credentials(v))
        } else {
            sigv4 = nil
        }
    }

    /// Adds what the request needs: TLS settings and credentials (or a SigV4 signature over
    /// `method`, `url` and `body`). Returns the OAuth2 token used, if any, so a 401 can retire
    /// exactly that token.
    func apply(
        to request: inout HTTPClientRequest, method: String, url: String, body: [UInt8]?, retiring stale: String? = nil
    ) async throws(TransportError) -> String? {
        if let tls { request.tlsConfiguration = try tls.configuration() }
        if let sigv4 {
            let headers = sigv4.signer.sign(
                method: method, url: url, body: body ?? [], credentials: try sigv4.credentials.current(),
                amzDate: SigV4Signer.amzDate(epochSeconds: Int64(Date().timeIntervalSince1970)))
            for (k, v) in headers { request.headers.replaceOrAdd(name: k, value: v) }
        }
        guard let authorization else { return nil }
        let (value, token) = try await authorization.headerValue(retiring: stale)
        request.headers.replaceOrAdd(name: "Authorization", value: value)
        return token
    }
}

/// A file read again only when its modification time or size changes.
final class WatchedFile: Sendable {
    let path: String
    private struct Stamp: Equatable {
        var seconds: Int
        var nanoseconds: Int
        var size: Int
    }
    private let cached = Mutex<(stamp: Stamp, bytes: [UInt8])?>(nil)

    init(_ path: String) { self.path = path }

    /// The file's bytes, and whether they changed since the last call.
    func read() throws(TransportError) -> (bytes: [UInt8], changed: Bool) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw TransportError(kind: .other, message: "unable to read file \(path): \(String(cString: strerror(errno)))")
        }
        let stamp = Stamp(seconds: Int(st.st_mtim.tv_sec), nanoseconds: Int(st.st_mtim.tv_nsec), size: Int(st.st_size))
        if let c = cached.withLock({ $0 }), c.stamp == stamp { return (c.bytes, false) }
        guard let bytes = readWholeFile(path) else {
            throw TransportError(kind: .other, message: "unable to read file \(path): \(String(cString: strerror(errno)))")
        }
        cached.withLock { $0 = (stamp, bytes) }
        return (bytes, true)
    }

    /// The file's text with surrounding white space removed, as Prometheus reads secret files.
    func trimmedText() throws(TransportError) -> String {
        trimmed(String(decoding: try read().bytes, as: UTF8.self))
    }
}

func trimmed(_ s: String) -> String {
    var t = Substring(s)
    while let c = t.first, c.isWhitespace { t = t.dropFirst() }
    while let c = t.last, c.isWhitespace { t = t.dropLast() }
    return String(t)
}

private func readWholeFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16 << 10)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { return nil }
        if n == 0 { return out }
        out += chunk[0..<n]
    }
}

/// The TLS configuration of a `tls_config`, rebuilt when one of its files changes.
final class TLSSource: Sendable {
    let config: TLSConfig
    private let ca: WatchedFile?
    private let cert: WatchedFile?
    private let key: WatchedFile?
    private let built = Mutex<TLSConfiguration?>(nil)

    init(_ config: TLSConfig) {
        self.config = config
        ca = config.caFile.map(WatchedFile.init)
        cert = config.certFile.map(WatchedFile.init)
        key = config.keyFile.map(WatchedFile.init)
    }

    func configuration() throws(TransportError) -> TLSConfiguration {
        let caBytes = try ca?.read()
        let certBytes = try cert?.read()
        let keyBytes = try key?.read()
        let changed = (caBytes?.changed ?? false) || (certBytes?.changed ?? false) || (keyBytes?.changed ?? false)
        if !changed, let c = built.withLock({ $0 }) { return c }
        var t = TLSConfiguration.makeClientConfiguration()
        do {
            if let pem = caBytes?.bytes ?? config.ca.map({ Array($0.utf8) }) {
                t.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(pem))
            }
            if let pem = certBytes?.bytes ?? config.cert.map({ Array($0.utf8) }) {
                t.certificateChain = try NIOSSLCertificate.fromPEMBytes(pem).map { .certificate($0) }
            }
            if let pem = keyBytes?.bytes ?? config.key.map({ Array($0.value.utf8) }) {
                t.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: pem, format: .pem))
            }
        } catch {
            let files = [config.caFile, config.certFile, config.keyFile].compactMap { $0 }.joined(separator: ", ")
            throw TransportError(
                kind: .other, message: "unable to load TLS certificates or key\(files.isEmpty ? "" : " (\(files))"): \(error)")
        }
        if config.insecureSkipVerify { t.certificateVerification = .none }
        t.minimumTLSVersion = Self.version(config.minVersion) ?? .tlsv12
        if let max = Self.version(config.maxVersion) { t.maximumTLSVersion = max }
        built.withLock { $0 = t }
        return t
    }

    static func version(_ name: String?) -> TLSVersion? {
        switch name {
        case "TLS10": .tlsv1
        case "TLS11": .tlsv11
        case "TLS12": .tlsv12
        case "TLS13": .tlsv13
        default: nil
        }
    }
}

/// Produces the `Authorization` header value for each request.
final class Authorizer: Sendable {
    private enum Kind {
        case basic(username: String, usernameFile: WatchedFile?, password: Secret?, passwordFile: WatchedFile?)
        case credentials(type: String, value: Secret?, file: WatchedFile?)
        case oauth2(OAuth2Source)
    }
    private let kind: Kind

    init?(_ config: HTTPClientConfig, transport: HTTPTransport) {
        if let b = config.basicAuth {
            kind = .basic(
                username: b.username, usernameFile: b.usernameFile.map(WatchedFile.init), password: b.password,
                passwordFile: b.passwordFile.map(WatchedFile.init))
        } else if let a = config.authorization {
            kind = .credentials(type: a.type, value: a.credentials, file: a.credentialsFile.map(WatchedFile.init))
        } else if let o = config.oauth2 {
            kind = .oauth2(OAuth2Source(o, transport: transport))
        } else {
            return nil
        }
    }

    /// The header value, and the OAuth2 token in it (nil for the other kinds).
    func headerValue(retiring stale: String?) async throws(TransportError) -> (String, String?) {
        switch kind {
        case .basic(let username, let usernameFile, let password, let passwordFile):
            let user = try usernameFile?.trimmedText() ?? username
            let pass = try passwordFile?.trimmedText() ?? password?.value ?? ""
            return (HTTPClient.Authorization.basic(username: user, password: pass).headerValue, nil)
        case .credentials(let type, let value, let file):
            let secret = try file?.trimmedText() ?? value?.value ?? ""
            return ("\(type) \(secret)", nil)
        case .oauth2(let source):
            let token = try await source.token(retiring: stale)
            return ("Bearer \(token)", token)
        }
    }
}

/// OAuth2 client-credentials tokens: fetched once, shared by every request of the job or endpoint
/// (all shards), and fetched again shortly before they expire or when a server answers 401.
final class OAuth2Source: Sendable {
    let config: OAuth2Config
    private let secretFile: WatchedFile?
    private let transport: HTTPTransport
    /// The current token and when it expires (nil: never), or the fetch under way.
    private enum State {
        case none
        case token(String, expires: ContinuousClock.Instant?)
        case fetching(Task<Result<(String, ContinuousClock.Instant?), TransportError>, Never>)
    }
    private let state = Mutex(State.none)
    /// Tokens are renewed this long before they expire (as Go's oauth2 package does).
    static let expiryMargin: Duration = .seconds(10)

    init(_ config: OAuth2Config, transport: HTTPTransport) {
        self.config = config
        secretFile = config.clientSecretFile.map(WatchedFile.init)
        self.transport = transport
    }

    /// The current token, fetching one when there is none, it is about to expire, or it is
    /// `stale` (a server refused it). Concurrent callers share one fetch.
    func token(retiring stale: String?) async throws(TransportError) -> String {
        typealias Fetch = Task<Result<(String, ContinuousClock.Instant?), TransportError>, Never>
        enum Step {
            case have(String)
            case wait(Fetch)
        }
        let now = ContinuousClock.now
        let step = state.withLock { s -> Step in
            switch s {
            case .token(let token, let expires)
            where token != stale && (expires.map { now + Self.expiryMargin < $0 } ?? true):
                return .have(token)
            case .fetching(let t):
                return .wait(t)
            default:
                let t = Fetch { await self.fetch() }
                s = .fetching(t)
                return .wait(t)
            }
        }
        switch step {
        case .have(let token):
            return token
        case .wait(let task):
            let result = await task.value
            state.withLock { s in
                guard case .fetching = s else { return }
                switch result {
                case .success(let (token, expires)): s = .token(token, expires: expires)
                case .failure: s = .none
                }
            }
            return try result.get().0
        }
    }

    private func fetch() async -> Result<(String, ContinuousClock.Instant?), TransportError> {
        do throws(TransportError) {
            let secret = try secretFile?.trimmedText() ?? config.clientSecret?.value ?? ""
            var form = "grant_type=client_credentials"
            if !config.scopes.isEmpty { form += "&scope=" + formEncode(config.scopes.joined(separator: " ")) }
            for p in config.endpointParams { form += "&" + formEncode(p.name) + "=" + formEncode(p.value) }
            let basic = HTTPClient.Authorization.basic(username: formEncode(config.clientID), password: formEncode(secret))
            var tokenHTTP = HTTPClientConfig()
            tokenHTTP.tls = config.tls
            tokenHTTP.proxyURL = config.proxyURL
            let started = ContinuousClock.now
            let r = try await transport.post(
                url: config.tokenURL,
                headers: [
                    ("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", basic.headerValue),
                    ("Accept", "application/json"),
                ],
                body: Array(form.utf8), timeout: .seconds(30), settings: try transport.settings(for: tokenHTTP))
            guard r.status == 200 else {
                throw TransportError(
                    kind: .other,
                    message: "oauth2: cannot fetch token from \(redactURL(config.tokenURL)): HTTP status \(r.status)")
            }
            struct TokenResponse: Decodable {
                var access_token: String?
                var expires_in: Double?
            }
            let decoded = r.body.withUnsafeBytes { try? JSONDecoder().decode(TokenResponse.self, from: Data($0)) }
            guard let token = decoded?.access_token, !token.isEmpty else {
                throw TransportError(
                    kind: .other, message: "oauth2: token endpoint \(redactURL(config.tokenURL)) returned no access_token")
            }
            let expires = decoded?.expires_in.flatMap { $0 > 0 ? started + .milliseconds(Int64($0 * 1000)) : nil }
            return .success((token, expires))
        } catch {
            return .failure(error)
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
/// `s` percent-encoded for a form body or a URL query value (space as `+`).
public func formEncode(_ s: String) -> String {
    var out = ""
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(b))
        case UInt8(ascii: " "):
            out += "+"
        default:
            let hex = Array("0123456789ABCDEF".utf8)
            out += "%" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
        }
    }
    return out
}
