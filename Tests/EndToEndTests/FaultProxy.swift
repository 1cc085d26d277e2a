import Foundation
import Synchronization
import Testing

/// An HTTP/1.1 server on 127.0.0.1 for tests: one thread per connection, keep-alive, and a handler
/// that sees each request and chooses the reply — a response, a reset, or no answer at all.
final class TestHTTPServer: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        /// Names lower-cased.
        var headers: [String: String]
        var body: [UInt8]
    }

    enum Reply: Sendable {
        case respond(status: Int, headers: [String], body: [UInt8])
        /// Close the connection without answering (a reset).
        case reset
        /// Keep the connection open and never answer.
        case blackhole
        /// A 200 with a chunked body that `write` produces: it gets a function sending one chunk
        /// (false once the peer is gone) and one telling whether to stop (the server is stopping
        /// or the peer hung up); the response ends, and the connection closes, when it returns.
        case stream(headers: [String], write: @Sendable (_ send: ([UInt8]) -> Bool, _ stopping: () -> Bool) -> Void)
    }

    let port: Int
    private let fd: Int32
    private let handler: @Sendable (Request) -> Reply
    private let stopped = Atomic<Bool>(false)

    init(handler: @escaping @Sendable (Request) -> Reply) throws {
        self.handler = handler
        (fd, port) = try Harness.listenOnLoopback()
        let listener = fd
        Thread.detachNewThread { [self] in
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { return }  // closed by stop()
                Thread.detachNewThread { [self] in
                    self.serve(c)
                    close(c)
                }
            }
        }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    /// Answers requests on one kept-alive connection until the peer closes it.
    private func serve(_ c: Int32) {
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        func fill() -> Bool {
            while !stopped.load(ordering: .relaxed) {
                let n = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    buffer += chunk[0..<n]
                    return true
                }
                if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { return false }
            }
            return false
        }
        while true {
            var headEnd: Int? = nil
            while headEnd == nil {
                if buffer.count >= 4 {
                    for i in 0...(buffer.count - 4)
                    where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
                        headEnd = i + 4
                        break
                    }
                }
                if headEnd == nil && !fill() { return }
            }
            guard let end = headEnd else { return }
            let head = String(decoding: buffer[0..<end], as: UTF8.self)
            let requestLine = head.prefix { $0 != "\r" }.split(separator: " ")
            var headers: [String: String] = [:]
            for line in head.split(separator: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            while buffer.count < end + length { if !fill() { return } }
            let body = Array(buffer[end..<(end + length)])
            buffer.removeFirst(end + length)
            let request = Request(
                method: requestLine.first.map(String.init) ?? "", path: requestLine.count > 1 ? String(requestLine[1]) : "",
                headers: headers, body: body)
            switch handler(request) {
            case .blackhole:
                while !stopped.load(ordering: .relaxed) { usleep(50_000) }
                return
            case .reset:
                var linger = linger(l_onoff: 1, l_linger: 0)
                setsockopt(c, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
                return
            case .stream(let extra, let write):
                var out = "HTTP/1.1 200 OK\r\n"
                for h in extra { out += h + "\r\n" }
                out += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                guard sendAll(c, Array(out.utf8)) else { return }
                write({ chunk in
                    chunk.isEmpty || sendAll(c, Array((String(chunk.count, radix: 16) + "\r\n").utf8) + chunk + [13, 10])
                }, {
                    if self.stopped.load(ordering: .relaxed) { return true }
                    // A peer that closed its side reads as end-of-file without blocking.
                    var probe: UInt8 = 0
                    return recv(c, &probe, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
                })
                _ = sendAll(c, Array("0\r\n\r\n".utf8))
                return
            case .respond(let status, let extra, let body):
                var out = "HTTP/1.1 \(status) Status\r\n"
                for h in extra { out += h + "\r\n" }
                out += "Content-Length: \(body.count)\r\n\r\n"
                if !sendAll(c, Array(out.utf8) + body) { return }
            }
        }
    }
}

func sendAll(_ c: Int32, _ bytes: [UInt8]) -> Bool {
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { return false }
        sent += n
    }
    return true
}

import CSnappy

/// A remote-write receiver on 127.0.0.1 that answers each request as a script says — forward to a
/// real receiver, answer a status of its own, reset the connection, or never answer — and keeps
/// exact books of what it saw: every (series, timestamp) in every request, which of them the real
/// receiver accepted, which were refused for good, and whether any series went backwards in time.
final class FaultProxy: Sendable {
    enum Fault: Sendable, Equatable {
        /// Pass to the upstream receiver and relay its answer.
        case forward
        /// Answer this status (with extra header lines) without forwarding.
        case status(Int, headers: [String])
        /// Close the connection without answering (a reset).
        case reset
        /// Keep the connection open and never answer.
        case blackhole
    }

    struct Books: Sendable {
        var requests = 0
        /// Every sample seen, as series key + timestamp.
        var seen: Set<String> = []
        /// Samples the upstream accepted.
        var delivered: Set<String> = []
        /// Samples answered with a 4xx other than 413 and 429: the sender must drop them.
        var refused: Set<String> = []
        /// Sample count of requests answered 5xx, 429 or reset: the sender must retry them.
        var retriedSamples = 0
        /// Sample count of requests answered 413.
        var tooLargeSamples = 0
        /// Requests answered 401 (the sender must fetch new credentials and try again).
        var unauthorized = 0
        /// Delivered samples whose series already had a delivered sample at or after their timestamp.
        var outOfOrder = 0
        var lastDelivered: [String: Int64] = [:]
        /// Per request: sample count and the fault applied.
        var log: [(samples: Int, fault: Fault)] = []
        /// Headers of the last request, lower-cased names.
        var lastHeaders: [String: String] = [:]
    }

    private let upstreamPort: Int
    private let server: TestHTTPServer
    /// The books, shared with the server's handler.
    private final class Ledger: Sendable {
        let books = Mutex(Books())
    }
    private let ledger: Ledger

    /// `script` gets the 1-based request number, the request's sample count and its headers
    /// (names lower-cased).
    init(
        upstreamPort: Int, script: @escaping @Sendable (_ request: Int, _ samples: Int, _ headers: [String: String]) -> Fault
    ) throws {
        self.upstreamPort = upstreamPort
        let ledger = Ledger()
        self.ledger = ledger
        server = try TestHTTPServer { request in
            guard let samples = FaultProxy.decode(request.body) else {
                Issue.record("the proxy received a request that is not a snappy-compressed remote-write 1.0 message")
                return .respond(status: 400, headers: [], body: Array("undecodable\n".utf8))
            }
            let number = ledger.books.withLock { b -> Int in
                b.requests += 1
                b.lastHeaders = request.headers
                for s in samples { b.seen.insert(s.key) }
                return b.requests
            }
            let fault = script(number, samples.count, request.headers)
            ledger.books.withLock { $0.log.append((samples.count, fault)) }
            switch fault {
            case .blackhole:
                return .blackhole
            case .reset:
                ledger.books.withLock { $0.retriedSamples += samples.count }
                return .reset
            case .status(let code, let extra):
                ledger.books.withLock { b in
                    if code == 413 {
                        b.tooLargeSamples += samples.count
                    } else if code >= 500 || code == 429 {
                        b.retriedSamples += samples.count
                    } else if code == 401 {
                        b.unauthorized += 1
                    } else if code >= 400 {
                        for s in samples { b.refused.insert(s.key) }
                    }
                }
                return .respond(status: code, headers: extra, body: Array("injected fault \(code)\n".utf8))
            case .forward:
                let (code, reply) = FaultProxy.forward(request.body, headers: request.headers, port: upstreamPort)
                if (200..<300).contains(code) {
                    ledger.books.withLock { b in
                        for s in samples {
                            b.delivered.insert(s.key)
                            if let last = b.lastDelivered[s.series], last >= s.timestamp { b.outOfOrder += 1 }
                            b.lastDelivered[s.series] = max(b.lastDelivered[s.series] ?? .min, s.timestamp)
                        }
                    }
                }
                return .respond(status: code, headers: [], body: reply)
            }
        }
    }

    var port: Int { server.port }

    var snapshot: Books { ledger.books.withLock { $0 } }

    func stop() { server.stop() }

    /// Posts `body` to the upstream receiver on a fresh connection; returns its status and body.
    static func forward(_ body: [UInt8], headers: [String: String], port upstreamPort: Int) -> (Int, [UInt8]) {
        let u = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(u) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(upstreamPort).bigEndian)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(u, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard ok == 0 else { return (502, Array("upstream unreachable\n".utf8)) }
        var head = "POST /api/v1/write HTTP/1.1\r\nHost: 127.0.0.1:\(upstreamPort)\r\n"
        for name in ["content-type", "content-encoding", "x-prometheus-remote-write-version"] {
            if let v = headers[name] { head += "\(name): \(v)\r\n" }
        }
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        guard sendAll(u, Array(head.utf8) + body) else { return (502, []) }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(u, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            reply += chunk[0..<n]
        }
        let text = String(decoding: reply, as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 2)
        let code = parts.count > 1 ? Int(parts[1]) ?? 502 : 502
        let bodyStart = text.range(of: "\r\n\r\n").map { text.utf8.distance(from: text.startIndex, to: $0.upperBound) }
        return (code, bodyStart.map { Array(reply[$0...]) } ?? [])
    }

    struct DecodedSample {
        var series: String
        var timestamp: Int64
        var key: String { "\(series)@\(timestamp)" }
    }

    /// The samples of a snappy-compressed remote-write 1.0 request; the series key is its labels
    /// as `name=value,…` in the order sent.
    static func decode(_ compressed: [UInt8]) -> [DecodedSample]? {
        guard let raw = unsnappy(compressed) else { return nil }
        var samples: [DecodedSample] = []
        for series in fields(raw[...]) where series.number == 1 {
            guard let bytes = series.bytes else { return nil }
            var key = ""
            var timestamps: [Int64] = []
            for f in fields(bytes) {
                if f.number == 1, let label = f.bytes {
                    for part in fields(label) {
                        key += String(decoding: part.bytes ?? [], as: UTF8.self) + (part.number == 1 ? "=" : ",")
                    }
                } else if f.number == 2, let sample = f.bytes {
                    var ts: Int64 = 0
                    for part in fields(sample) where part.number == 2 { ts = Int64(bitPattern: part.varint ?? 0) }
                    timestamps.append(ts)
                }
            }
            for ts in timestamps { samples.append(DecodedSample(series: key, timestamp: ts)) }
        }
        return samples
    }

    /// The fields of a protobuf message: number, and the varint or the bytes (fixed64 skipped).
    private static func fields(_ b: ArraySlice<UInt8>) -> [(number: Int, varint: UInt64?, bytes: ArraySlice<UInt8>?)] {
        var out: [(Int, UInt64?, ArraySlice<UInt8>?)] = []
        var i = b.startIndex
        func varint() -> UInt64? {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while i < b.endIndex, shift < 64 {
                let byte = b[i]
                i += 1
                v |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { return v }
                shift += 7
            }
            return nil
        }
        while i < b.endIndex {
            guard let key = varint() else { return out }
            let number = Int(key >> 3)
            switch key & 7 {
            case 0:
                guard let v = varint() else { return out }
                out.append((number, v, nil))
            case 1:
                i += 8
            case 2:
                guard let n = varint(), i + Int(n) <= b.endIndex else { return out }
                out.append((number, nil, b[i..<(i + Int(n))]))
                i += Int(n)
            case 5:
                i += 4
            default:
                return out
            }
        }
        return out
    }
}

/// Snappy-decompresses a request body.
func unsnappy(_ compressed: [UInt8]) -> [UInt8]? {
    var length = 0
    guard compressed.withUnsafeBytes({ snappy_uncompressed_length($0.baseAddress, $0.count, &length) }) == SNAPPY_OK
    else { return nil }
    var raw = [UInt8](repeating: 0, count: length)
    let status = raw.withUnsafeMutableBytes { out in
        compressed.withUnsafeBytes { snappy_uncompress($0.baseAddress, $0.count, out.baseAddress, &length) }
    }
    return status == SNAPPY_OK ? raw : nil
}
