import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import OutpostConfig
import Telemetry

/// A failed request, with a message safe to show on `/status` (no credentials).
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case connect, timeout, tooLarge, other }
    public var kind: Kind
    public var message: String
    public var description: String { message }
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

/// The one HTTP client of the process, shared by scrapes and remote-write (and later discovery).
/// It owns AsyncHTTPClient so no other module imports it.
public final class HTTPTransport: Sendable {
    private let client: HTTPClient

    public init() {
        var config = HTTPClient.Configuration()
        // Scrape bodies may come gzip-compressed; the body limit below applies to the decompressed
        // bytes, as Prometheus applies body_size_limit.
        config.decompression = .enabled(limit: .none)
        config.redirectConfiguration = .follow(max: 10, allowCycles: false)
        config.connectionPool.idleTimeout = .seconds(90)
        // Remote-write runs up to max_shards requests to one receiver at once.
        config.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        // One dial per request, as Prometheus does: a refused connection fails the scrape at once
        // instead of being retried until the scrape timeout. Remote-write has its own backoff.
        config.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    /// A GET whose body is read into memory. With a `bodyLimit` (0: none), a body of that many
    /// bytes or more fails the request, as Prometheus' `body_size_limit` does, without reading on.
    public func get(
        url: String, headers: [(String, String)], timeout: Duration, bodyLimit: Int = 0
    ) async throws(TransportError) -> HTTPResult {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        return try await run(request, method: "Get", url: url, timeout: timeout, bodyLimit: bodyLimit)
    }

    /// A POST of `body`; the response body is kept up to 64 KiB (receivers put their reason there).
    public func post(
        url: String, headers: [(String, String)], body: [UInt8], timeout: Duration
    ) async throws(TransportError) -> HTTPResult {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        request.body = .bytes(ByteBuffer(bytes: body))
        return try await run(request, method: "Post", url: url, timeout: timeout, bodyLimit: 64 << 10, truncate: true)
    }

    private func run(
        _ request: HTTPClientRequest, method: String, url: String, timeout: Duration, bodyLimit: Int,
        truncate: Bool = false
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
        try? await client.shutdown()
    }
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
