import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import OutpostConfig
import Synchronization
import Telemetry

/// A failed request, with a message safe to show on `/status` (no credentials).
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case connect, timeout, tooLarge, other }
    public var kind: Kind
    public var message: String
    public var description: String { message }
    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
}

/// A response: status, headers and the whole body in one contiguous buffer.
public struct HTTPResult: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: ResponseBody

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.0.lowercased() == lower }?.1
    }
}

/// A response body. Parsers read it in place through ``withUnsafeBytes(_:)``.
public struct ResponseBody: Sendable {
    var buffer: ByteBuffer
    public var count: Int { buffer.readableBytes }
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes(body)
    }
    /// The first `limit` bytes as text, for error messages.
    public func prefixString(_ limit: Int) -> String {
        String(decoding: buffer.readableBytesView.prefix(limit), as: UTF8.self)
    }
}

/// The process's HTTP clients, shared by scrapes, remote-write and discovery. It owns
/// AsyncHTTPClient so no other module imports it. Most requests go through one shared client;
/// a proxy, `follow_redirects: false`, `enable_http2: false` or a TLS `server_name` need a client
/// of their own, made once per distinct choice and kept until ``shutdown()``.
public final class HTTPTransport: Sendable {
    private let shared: HTTPClient
    private let clients = Mutex<[ClientKey: HTTPClient]>([:])

    struct ClientKey: Hashable {
        var proxy: String?
        var followRedirects: Bool
        var http2: Bool
        /// server_name → the host it stands for.
        var nameOverride: [String: String]
    }

    public init() {
        shared = Self.makeClient(ClientKey(proxy: nil, followRedirects: true, http2: true, nameOverride: [:]))
    }

    private static func makeClient(_ key: ClientKey) -> HTTPClient {
        var config = HTTPClient.Configuration()
        // Scrape bodies may come gzip-compressed; the body limit below applies to the decompressed
        // bytes, as Prometheus applies body_size_limit.
        config.decompression = .enabled(limit: .none)
        config.redirectConfiguration = key.followRedirects ? .follow(max: 10, allowCycles: false) : .disallow
        config.httpVersion = key.http2 ? .automatic : .http1Only
        config.connectionPool.idleTimeout = .seconds(90)
        // Remote-write runs up to max_shards requests to one receiver at once.
        config.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        // One dial per request, as Prometheus does: a refused connection fails the scrape at once
        // instead of being retried until the scrape timeout. Remote-write has its own backoff.
        config.connectionPool.retryConnectionEstablishment = false
        config.dnsOverride = key.nameOverride
        if let proxy = key.proxy, let p = parseProxy(proxy) {
            config.proxy = .server(
                host: p.host, port: p.port,
                authorization: p.user.map { .basic(username: $0, password: p.password ?? "") })
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    private func client(_ key: ClientKey) -> HTTPClient {
        if key.proxy == nil && key.followRedirects && key.http2 && key.nameOverride.isEmpty { return shared }
        return clients.withLock { c in
            if let existing = c[key] { return existing }
            let made = Self.makeClient(key)
            c[key] = made
            return made
        }
    }

    /// Settings for requests made under `config`; fails when its TLS files cannot be loaded.
    public func settings(for config: HTTPClientConfig) throws(TransportError) -> HTTPClientSettings {
        try HTTPClientSettings(config: config, transport: self)
    }

    /// A GET whose body is read into memory. With a `bodyLimit` (0: none), a body of that many
    /// bytes or more fails the request, as Prometheus' `body_size_limit` does, without reading on.
    public func get(
        url: String, headers: [(String, String)], timeout: Duration, bodyLimit: Int = 0,
        settings: HTTPClientSettings? = nil
    ) async throws(TransportError) -> HTTPResult {
        try await run(
            method: .GET, url: url, headers: headers, body: nil, timeout: timeout, bodyLimit: bodyLimit,
            settings: settings)
    }

    /// A POST of `body`; the response body is kept up to 64 KiB (receivers put their reason there).
    public func post(
        url: String, headers: [(String, String)], body: [UInt8], timeout: Duration, settings: HTTPClientSettings? = nil
    ) async throws(TransportError) -> HTTPResult {
        try await run(
            method: .POST, url: url, headers: headers, body: body, timeout: timeout, bodyLimit: 64 << 10,
            truncate: true, settings: settings)
    }

    /// A long-running GET whose body is a stream of newline-separated records (a Kubernetes
    /// watch): `line` gets each record as it arrives and returns false to stop reading. Returns
    /// the status; a status other than 200 calls `line` once with the start of the body (the
    /// server's reason) instead. The request ends when the server closes the stream, when `line`
    /// says so, at `timeout`, or when the task is cancelled.
    public func streamLines(
        url: String, headers: [(String, String)], timeout: Duration, settings: HTTPClientSettings? = nil,
        _ line: @Sendable ([UInt8]) async -> Bool
    ) async throws(TransportError) -> Int {
        let http = settings?.config ?? HTTPClientConfig()
        var key = ClientKey(
            proxy: http.proxyURL, followRedirects: http.followRedirects, http2: http.enableHTTP2, nameOverride: [:])
        var target = url
        var request = HTTPClientRequest(url: url)
        if let serverName = http.tls.serverName, let parts = URLParts(url), parts.host != serverName {
            key.nameOverride = [serverName: parts.host]
            target = parts.replacingHost(with: serverName)
            request = HTTPClientRequest(url: target)
            request.headers.replaceOrAdd(name: "Host", value: parts.hostAndPort)
        }
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        _ = try await settings?.apply(to: &request, method: "GET", url: url, body: nil, retiring: nil)
        let shown = redactURL(url)
        do {
            let response = try await client(key).execute(request, timeout: .milliseconds(max(1, timeout.milliseconds)))
            let status = Int(response.status.code)
            var pending: [UInt8] = []
            reading: for try await part in response.body {
                if status != 200 {
                    if pending.count < 4096 { pending += part.readableBytesView.prefix(4096 - pending.count) }
                    continue
                }
                var start = pending.count
                pending += part.readableBytesView
                // A record that never ends (a broken server) must not grow without bound.
                guard pending.count <= Self.maxStreamRecord else {
                    throw TransportError(kind: .tooLarge, message: "GET \"\(shown)\": a streamed record exceeds \(Self.maxStreamRecord) bytes")
                }
                var lineStart = 0
                while let nl = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    if nl > lineStart, !(await line(Array(pending[lineStart..<nl]))) { break reading }
                    lineStart = nl + 1
                    start = lineStart
                }
                pending.removeFirst(lineStart)
            }
            if status != 200 || !pending.isEmpty { _ = await line(pending) }
            return status
        } catch let error as TransportError {
            throw error
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout:
                // The watch ran its course.
                return 200
            case .cancelled:
                throw TransportError(kind: .other, message: "GET \"\(shown)\": request cancelled")
            case .connectTimeout:
                throw TransportError(kind: .timeout, message: "GET \"\(shown)\": context deadline exceeded")
            default:
                throw TransportError(kind: .connect, message: "GET \"\(shown)\": \(error)")
            }
        } catch {
            throw TransportError(kind: .connect, message: "GET \"\(shown)\": \(describe(error))")
        }
    }

    /// The longest newline-separated record ``streamLines(url:headers:timeout:settings:_:)`` accepts.
    static let maxStreamRecord = 64 << 20

    private func run(
        method: HTTPMethod, url: String, headers: [(String, String)], body: [UInt8]?, timeout: Duration, bodyLimit: Int,
        truncate: Bool = false, settings: HTTPClientSettings?
    ) async throws(TransportError) -> HTTPResult {
        let http = settings?.config ?? HTTPClientConfig()
        var key = ClientKey(
            proxy: http.proxyURL, followRedirects: http.followRedirects, http2: http.enableHTTP2, nameOverride: [:])
        var target = url
        var hostHeader: String? = nil
        if let serverName = http.tls.serverName, let parts = URLParts(url), parts.host != serverName {
            // Connect to the URL's host but verify (and send SNI for) the server name: the request
            // names the server, and the client resolves that name to the real host.
            key.nameOverride = [serverName: parts.host]
            target = parts.replacingHost(with: serverName)
            hostHeader = parts.hostAndPort
        }
        let client = client(key)
        var stale: String? = nil
        for attempt in 0..<2 {
            var request = HTTPClientRequest(url: target)
            request.method = method
            for (k, v) in headers { request.headers.add(name: k, value: v) }
            if let hostHeader { request.headers.replaceOrAdd(name: "Host", value: hostHeader) }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let token = try await settings?.apply(
                to: &request, method: method.rawValue, url: url, body: body, retiring: stale)
            let result = try await execute(
                client, request, method: method.rawValue.capitalized, url: url, timeout: timeout,
                bodyLimit: bodyLimit, truncate: truncate)
            // A refused OAuth2 token is fetched again once, for everyone using it.
            if result.status == 401, attempt == 0, let token {
                stale = token
                continue
            }
            return result
        }
        throw TransportError(kind: .other, message: "unreachable")
    }

    private func execute(
        _ client: HTTPClient, _ request: HTTPClientRequest, method: String, url: String, timeout: Duration,
        bodyLimit: Int, truncate: Bool
    ) async throws(TransportError) -> HTTPResult {
        let shown = redactURL(url)
        let ms = max(1, timeout.milliseconds)
        do {
            let response = try await client.execute(request, timeout: .milliseconds(ms))
            let limit = bodyLimit > 0 ? bodyLimit : Int.max
            var buffer: ByteBuffer
            if truncate {
                buffer = ByteBuffer()
                for try await var part in response.body {
                    let room = limit - buffer.readableBytes
                    if room <= 0 { continue }
                    if part.readableBytes > room { part = part.getSlice(at: part.readerIndex, length: room) ?? part }
                    buffer.writeBuffer(&part)
                }
            } else {
                buffer = try await response.body.collect(upTo: bodyLimit > 0 ? bodyLimit - 1 : limit)
            }
            return HTTPResult(
                status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                body: ResponseBody(buffer: buffer))
        } catch let error as TransportError {
            throw error
        } catch is NIOTooManyBytesError {
            throw TransportError(
                kind: .tooLarge, message: "body size limit exceeded (\(bodyLimit) bytes)")
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout:
                throw TransportError(kind: .timeout, message: "\(method) \"\(shown)\": context deadline exceeded")
            case .cancelled:
                throw TransportError(kind: .other, message: "\(method) \"\(shown)\": request cancelled")
            default:
                throw TransportError(kind: .connect, message: "\(method) \"\(shown)\": \(error)")
            }
        } catch {
            throw TransportError(kind: .connect, message: "\(method) \"\(shown)\": \(describe(error))")
        }
    }

    /// Closes every connection. Call once, at shutdown.
    public func shutdown() async {
        try? await shared.shutdown()
        for c in clients.withLock({ Array($0.values) }) { try? await c.shutdown() }
    }
}

/// The parts of an `http(s)://` URL needed to swap its host.
struct URLParts {
    var scheme: String
    var userinfo: String?
    var host: String
    var port: String?
    var rest: String

    init?(_ url: String) {
        guard let sep = url.range(of: "://") else { return nil }
        scheme = String(url[..<sep.lowerBound])
        let afterScheme = url[sep.upperBound...]
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        var authority = afterScheme[..<authorityEnd]
        rest = String(afterScheme[authorityEnd...])
        if let at = authority.lastIndex(of: "@") {
            userinfo = String(authority[..<at])
            authority = authority[authority.index(after: at)...]
        }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            port = after.hasPrefix(":") ? String(after.dropFirst()) : nil
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = String(authority[authority.index(after: colon)...])
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { return nil }
    }

    var hostAndPort: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port.map { "\(h):\($0)" } ?? h
    }

    func replacingHost(with name: String) -> String {
        scheme + "://" + (userinfo.map { $0 + "@" } ?? "") + name + (port.map { ":" + $0 } ?? "") + rest
    }
}

/// host, port and credentials of an `http://user:pass@host:port` proxy URL.
func parseProxy(_ url: String) -> (host: String, port: Int, user: String?, password: String?)? {
    guard let parts = URLParts(url) else { return nil }
    var user: String? = nil
    var password: String? = nil
    if let info = parts.userinfo {
        if let colon = info.firstIndex(of: ":") {
            user = String(info[..<colon])
            password = String(info[info.index(after: colon)...])
        } else {
            user = info
        }
    }
    return (parts.host, parts.port.flatMap { Int($0) } ?? 80, user, password)
}

/// Removes `user:password@` from a URL before it is shown anywhere.
public func redactURL(_ url: String) -> String {
    let chars = Array(url.utf8)
    guard let colon = chars.firstIndex(of: UInt8(ascii: ":")), chars.count > colon + 2,
        chars[colon + 1] == UInt8(ascii: "/"), chars[colon + 2] == UInt8(ascii: "/")
    else { return url }
    let hostStart = colon + 3
    var hostEnd = hostStart
    while hostEnd < chars.count, chars[hostEnd] != UInt8(ascii: "/"), chars[hostEnd] != UInt8(ascii: "?"),
        chars[hostEnd] != UInt8(ascii: "#")
    {
        hostEnd += 1
    }
    guard let at = chars[hostStart..<hostEnd].lastIndex(of: UInt8(ascii: "@")) else { return url }
    let head = String(decoding: chars[..<hostStart], as: UTF8.self)
    let tail = String(decoding: chars[(at + 1)...], as: UTF8.self)
    return head + "<secret>@" + tail
}

private func describe(_ error: any Error) -> String {
    let text = "\(error)"
    if text.contains("connection refused") || text.contains("Connection refused") || text.contains("ECONNREFUSED") {
        return "connect: connection refused"
    }
    return text
}
