import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Test harness for the end-to-end tests: real processes on 127.0.0.1 with free ports.
enum Harness {
    /// The `outpost` binary: `OUTPOST_BIN` (set by `make test`), else the debug build.
    static var outpostBinary: String {
        if let bin = ProcessInfo.processInfo.environment["OUTPOST_BIN"], !bin.isEmpty { return bin }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/outpost").path
    }

    /// A port nothing listens on right now (bind to 0, read it, close).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
        }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func tempDir(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "outpost-e2e-\(name)-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A minimal HTTP/1.0 GET against 127.0.0.1; nil when the connection fails.
    static func get(port: Int, path: String) -> (status: Int, body: String)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard ok == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response.append(contentsOf: chunk[0..<n])
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let headerEnd = text.range(of: "\r\n\r\n") else { return nil }
        let statusLine = text[..<headerEnd.lowerBound].split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        return (status, String(text[headerEnd.upperBound...]))
    }

    /// Polls `body` until it returns a value or `timeout` passes.
    static func eventually<T>(
        _ what: String, timeout: Duration = .seconds(60), every: Duration = .milliseconds(250),
        _ body: () throws -> T?
    ) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let v = try body() { return v }
            try await Task.sleep(for: every)
        }
        Issue.record("timed out after \(timeout) waiting for: \(what)")
        throw HarnessError("timed out after \(timeout) waiting for: \(what)")
    }

    /// Starts a node_exporter on a free port; returns the process and its port.
    static func nodeExporter(logDir: String, name: String = "node_exporter", extra: [String] = []) throws -> (ChildProcess, Int) {
        let port = freePort()
        let p = try ChildProcess(
            name, "/usr/bin/prometheus-node-exporter", ["--web.listen-address=127.0.0.1:\(port)"] + extra, logDir: logDir)
        return (p, port)
    }

    /// Samples a Prometheus took into its TSDB head, from its own `/metrics` (a receiver that does
    /// not scrape itself has them nowhere else).
    /// Writes `config` to `dir`/outpost.yaml and starts the binary on it, with its data under `dir`
    /// and its web endpoints on `port`.
    /// `extra` flags and `environment` variables are added to the usual ones.
    static func startOutpost(
        dir: String, port: Int, config: String, extra: [String] = [], environment: [String: String] = [:], name: String = "outpost"
    ) throws -> (process: ChildProcess, configPath: String) {
        let configPath = dir + "/\(name).yaml"
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        let process = try ChildProcess(
            name, outpostBinary,
            ["--config.file=\(configPath)", "--storage.agent.path=\(dir)/\(name == "outpost" ? "data" : name + "-data")",
             "--web.listen-address=127.0.0.1:\(port)"] + extra,
            logDir: dir, environment: environment)
        return (process, configPath)
    }

    /// Waits until the self-metric line starting with `prefix` on Outpost's `/metrics` is above zero.
    static func positiveMetric(_ port: Int, _ prefix: String, _ what: String) async throws -> Double {
        try await eventually(what) { () -> Double? in
            guard let v = DurabilityTests.metric(port, prefix), v > 0 else { return nil }
            return v
        }
    }

    /// Binds a listening socket on 127.0.0.1 with a free port.
    static func listenOnLoopback(backlog: Int32 = 64) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket failed") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else {
            close(fd)
            throw HarnessError("bind/listen failed")
        }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    static func headSamplesAppended(port: Int) -> Double? {
        guard let body = get(port: port, path: "/metrics")?.body else { return nil }
        return body.split(separator: "\n").filter { $0.hasPrefix("prometheus_tsdb_head_samples_appended_total") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }

    static func percentEncode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A child process with its output captured to a file, stopped by PID.
final class ChildProcess {
    let name: String
    let process = Process()
    let logPath: String

    init(_ name: String, _ executable: String, _ arguments: [String], logDir: String, environment: [String: String] = [:]) throws {
        self.name = name
        logPath = logDir + "/\(name).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// Sends `signal` and waits (bounded) for exit; returns the exit status, or nil if it had to be killed.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(20)) async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(pid, signal)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while process.isRunning && clock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Runs `body`; if it throws, records the error with the tail of this process' log, then rethrows.
    func showingLogOnFailure<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            Issue.record("\(error)\n--- \(name) log ---\n\(log().suffix(3000))")
            throw error
        }
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

/// A Prometheus with its remote-write receiver on, queried with PromQL.
struct PrometheusReceiver {
    let port: Int
    let dataDir: String
    let configPath: String

    /// Points at an already running Prometheus.
    init(port: Int, dataDir: String, configPath: String) {
        self.port = port
        self.dataDir = dataDir
        self.configPath = configPath
    }

    init(port: Int, dir: String) throws {
        self.port = port
        dataDir = dir + "/prometheus-data"
        configPath = dir + "/prometheus.yml"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "global:\n  scrape_interval: 1h\n".write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func start(logDir: String, extra: [String] = []) throws -> ChildProcess {
        try ChildProcess(
            "prometheus", "/usr/bin/prometheus",
            [
                "--config.file=\(configPath)", "--storage.tsdb.path=\(dataDir)",
                "--web.listen-address=127.0.0.1:\(port)", "--web.enable-remote-write-receiver",
            ] + extra, logDir: logDir)
    }

    /// Runs an instant query; returns each series' labels and value, or nil if Prometheus did not answer.
    func query(_ promql: String, time: Double? = nil) -> [(labels: [String: String], value: Double)]? {
        var path = "/api/v1/query?query=" + Harness.percentEncode(promql)
        if let time { path += "&time=\(time)" }
        guard let (status, body) = Harness.get(port: port, path: path), status == 200,
            let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
            let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
        else { return nil }
        return result.map { r in
            let labels = r["metric"] as? [String: String] ?? [:]
            let value = (r["value"] as? [Any])?.last as? String
            return (labels, Double(value ?? "") ?? .nan)
        }
    }
}

/// A scrape target on 127.0.0.1 that answers every request with the body and headers the test set,
/// and remembers the last request's head. A thread per connection, `Connection: close`: a client
/// that opens a connection and sends nothing (a scrape timed out before its request went out)
/// holds only its own thread, never the other scrapers'.
final class TestTarget: Sendable {
    struct Response: Sendable {
        var body: [UInt8]
        var headers: [String]
    }

    let port: Int
    private let fd: Int32
    private let response: Mutex<Response>
    private let lastRequestHead = Mutex<String>("")

    init(body: [UInt8], headers: [String]) throws {
        response = Mutex(Response(body: body, headers: headers))
        (fd, port) = try Harness.listenOnLoopback(backlog: 64)
        let listener = fd
        Thread.detachNewThread { [self] in
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { return }  // closed by stop()
                Thread.detachNewThread { [self] in
                    self.answer(c)
                    close(c)
                }
            }
        }
    }

    convenience init(text: String, headers: [String]) throws {
        try self.init(body: Array(text.utf8), headers: headers)
    }

    /// The head (request line and headers) of the last request.
    var lastRequest: String { lastRequestHead.withLock { $0 } }

    func set(body: [UInt8]) { response.withLock { $0.body = body } }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func answer(_ c: Int32) {
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while head.count < 64 << 10 {
            let n = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            head += chunk[0..<n]
            if head.count >= 4, head.suffix(4) == [13, 10, 13, 10] { break }
        }
        lastRequestHead.withLock { $0 = String(decoding: head, as: UTF8.self) }
        let r = response.withLock { $0 }
        var out = "HTTP/1.1 200 OK\r\n"
        for h in r.headers { out += h + "\r\n" }
        out += "Content-Length: \(r.body.count)\r\nConnection: close\r\n\r\n"
        let bytes = Array(out.utf8) + r.body
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}

/// `input` passed through a system tool's standard input; its standard output.
func piped(_ executable: String, _ arguments: [String], _ input: [UInt8]) throws -> [UInt8] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let stdin = Pipe()
    let stdout = Pipe()
    p.standardInput = stdin
    p.standardOutput = stdout
    try p.run()
    stdin.fileHandleForWriting.write(Data(input))
    try stdin.fileHandleForWriting.close()
    let data = stdout.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw HarnessError("\(executable) failed") }
    return Array(data)
}

/// `text` compressed by the system's gzip.
func gzipped(_ text: String) throws -> [UInt8] {
    let out = try piped("/bin/gzip", ["-c", "-n"], Array(text.utf8))
    guard out.count > 10 else { throw HarnessError("gzip failed") }
    return out
}

extension TestTarget {
    /// The response header of a target that serves OpenMetrics.
    static let openMetricsHeader = "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8"
}
