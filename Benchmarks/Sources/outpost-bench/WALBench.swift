import Foundation
import Logging
import OutpostModel
import Telemetry
import WAL

/// WAL benchmarks: append throughput and bytes per sample for steady scrapes of 100k series,
/// replay time of a 1 GiB WAL, memory per series after replay, and bytes on disk per sample
/// against the Prometheus agent scraping the same target in the same run.
func walBenchmark() {
    let series = 100_000
    let dir = NSTemporaryDirectory() + "outpost-walbench-" + UUID().uuidString
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    func open() -> WriteAheadLog {
        do {
            return try WriteAheadLog(options: .init(directory: dir), registry: MetricsRegistry(), logger: logger)
        } catch {
            fatalError("cannot open WAL: \(error)")
        }
    }
    func walBytes() -> Int64 {
        let wal = dir + "/wal"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: wal)) ?? []
        return names.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: wal + "/" + $1)[.size] as? Int64) ?? 0) }
    }

    var wal: WriteAheadLog? = open()
    _ = wal?.registerReader("holds-everything")  // keep every segment, as a lagging endpoint would
    let refs = (0..<series).map { i in
        wal!.seriesRef(
            for: Labels([
                ("__name__", "node_metric_\(i % 700)_total"), ("instance", "10.0.\(i / 5000).\(i % 250):9100"),
                ("job", "node"), ("cpu", String(i % 64)), ("mode", ["user", "system", "idle", "iowait"][i % 4]),
            ]))
    }
    // Values like a node_exporter: growing integer counters, float gauges, 0/1 flags.
    var counters = (0..<series).map { Double($0 * 13) }
    var samples = [Sample](repeating: Sample(ref: SeriesRef(0), timestamp: 0, value: 0), count: series)
    var ts: Int64 = 1_790_000_000_000
    func scrape() {
        ts += 15_000
        for i in 0..<series {
            let v: Double
            switch i % 10 {
            case 0..<6:
                counters[i] += Double((i * 7 + Int(ts / 1000)) % 50)
                v = counters[i]
            case 6..<9: v = Double((i * 31 + Int(ts / 1000)) % 10_000) / 7.0
            default: v = Double((i + Int(ts / 15000)) % 2)
            }
            samples[i] = Sample(ref: refs[i], timestamp: ts, value: v)
        }
    }
    func append() {
        do { try wal!.append(samples) } catch { fatalError("append failed: \(error)") }
    }
    scrape()
    append()
    let afterFirst = walBytes()
    let clock = ContinuousClock()
    let rounds = 50
    var appendTime: Duration = .zero
    for _ in 0..<rounds {
        scrape()
        let start = clock.now
        append()
        appendTime += clock.now - start
    }
    let steadyBytes = Double(walBytes() - afterFirst) / Double(rounds * series)
    let appendRate = Double(rounds * series) / (Double(appendTime.components.seconds) + Double(appendTime.components.attoseconds) / 1e18)

    // Grow to 1 GiB, then time a cold open (replay).
    while walBytes() < 1 << 30 {
        scrape()
        append()
    }
    let totalBytes = walBytes()
    wal?.close()
    wal = nil
    let replayStart = clock.now
    let reopened = open()
    let replay = clock.now - replayStart
    reopened.close()
    // Memory per series: the real binary's resident size once ready on this WAL, minus on an empty one.
    let empty = NSTemporaryDirectory() + "outpost-walbench-empty-" + UUID().uuidString
    defer { try? FileManager.default.removeItem(atPath: empty) }
    let perSeries = (readyRSS(storage: dir).map { loaded in
        readyRSS(storage: empty).map { Double(loaded - $0) / Double(series) }
    } ?? nil) ?? .nan

    let peer = agentComparison()
    let seconds = Double(replay.components.seconds) + Double(replay.components.attoseconds) / 1e18
    var table = """
        | WAL benchmark (100k series, one append per scrape) | result |
        |---|---|
        | append throughput, one core | \(fmt(appendRate / 1e6, 1)) M samples/s |
        | bytes on disk per steady-state sample | \(fmt(steadyBytes, 2)) |
        | replay of a \(fmt(Double(totalBytes) / Double(1 << 30), 2)) GiB WAL | \(fmt(seconds, 2)) s |
        | resident memory per series after replay | \(fmt(perSeries)) bytes |

        """
    if let peer {
        table += """
            | same target, same run (\(peer.series) series, \(peer.scrapes) steady-state scrapes) | bytes on disk per sample |
            |---|---|
            | Outpost WAL | \(fmt(peer.outpost, 2)) |
            | Prometheus agent WAL (compression on, its default) | \(fmt(peer.prometheus, 2)) |
            | ratio Outpost / Prometheus agent | \(fmt(peer.outpost / peer.prometheus, 2)) |

            """
    } else {
        table += "(Prometheus agent comparison skipped: prometheus or prometheus-node-exporter not installed)\n"
    }
    print(table)
    writeResult("wal.md", "# WAL benchmark (`make bench`)\n\n" + table)
}

/// The release binary `make bench` builds first.
func releaseOutpost() -> String {
    ProcessInfo.processInfo.environment["OUTPOST_BIN"] ?? FileManager.default.currentDirectoryPath + "/../.build/release/outpost"
}

/// Starts the release binary on `storage` with an empty configuration and returns its resident
/// bytes once `/-/ready` answers (so after WAL replay).
func readyRSS(storage: String) -> Int64? {
    let binary = releaseOutpost()
    guard FileManager.default.fileExists(atPath: binary) else { return nil }
    let config = storage + "-empty.yml"
    try? "global: {scrape_interval: 1m}\n".write(toFile: config, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: config) }
    let port = 19_600 + Int(getpid() % 100)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = ["--config.file=\(config)", "--storage.agent.path=\(storage)", "--web.listen-address=127.0.0.1:\(port)"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return nil }
    defer {
        p.terminate()
        p.waitUntilExit()
    }
    for _ in 0..<600 {
        if let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(p.processIdentifier)/status")),
            httpGet(port: port, path: "/-/ready") != nil
        {
            let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            let kb = line?.split(separator: " ").dropFirst().first.flatMap { Int64($0) }
            return kb.map { $0 * 1024 }
        }
        usleep(100_000)
    }
    return nil
}

/// Outpost and the Prometheus agent scrape one node_exporter serving 100k textfile series (values
/// rewritten every second) with the same config; compares WAL bytes per appended sample.
func agentComparison() -> (outpost: Double, prometheus: Double, series: Int, scrapes: Int)? {
    let fm = FileManager.default
    guard fm.fileExists(atPath: "/usr/bin/prometheus"), fm.fileExists(atPath: "/usr/bin/prometheus-node-exporter") else {
        return nil
    }
    let dir = NSTemporaryDirectory() + "outpost-agentbench-" + UUID().uuidString
    try? fm.createDirectory(atPath: dir + "/textfile", withIntermediateDirectories: true)
    defer { try? fm.removeItem(atPath: dir) }
    let series = 100_000
    var tick = 0
    func writeTextfile() {
        tick += 1
        var text = "# TYPE bench_metric counter\n"
        text.reserveCapacity(series * 80)
        for i in 0..<series {
            // Like node_exporter: mostly integer counters and sizes, some 2-decimal seconds, a few arbitrary floats.
            let v: String
            switch i % 20 {
            case 0: v = String(Double(i * tick) / 3.0)
            case 1..<6: v = String(Double(i * 100 + tick * 37) / 100)
            default: v = String(i * 10 + tick * (i % 17))
            }
            text += "bench_metric{shard=\"\(i % 100)\",series=\"s\(i)\",pod=\"pod-\(i % 2000)\"} \(v)\n"
        }
        try? text.write(toFile: dir + "/textfile/bench.prom.tmp", atomically: false, encoding: .utf8)
        _ = rename(dir + "/textfile/bench.prom.tmp", dir + "/textfile/bench.prom")
    }
    writeTextfile()
    let node = 19_700 + Int(getpid() % 200)
    let outpostPort = node + 1
    let promPort = node + 2
    let config = """
        global: {scrape_interval: 5s, scrape_timeout: 5s}
        scrape_configs:
          - job_name: bench
            static_configs: [{targets: ["127.0.0.1:\(node)"]}]
        remote_write:
          - url: http://127.0.0.1:1/api/v1/write
        """
    try? config.write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
    func launch(_ path: String, _ args: [String]) -> Process? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        return p
    }
    let outpostBinary = releaseOutpost()
    guard fm.fileExists(atPath: outpostBinary) else {
        print("(build the release binary with `make release` for the agent comparison: \(outpostBinary) missing)")
        return nil
    }
    var processes: [Process] = []
    defer {
        for p in processes where p.isRunning {
            p.terminate()
            p.waitUntilExit()
        }
    }
    guard let n = launch("/usr/bin/prometheus-node-exporter", [
        "--web.listen-address=127.0.0.1:\(node)", "--collector.disable-defaults", "--collector.textfile",
        "--collector.textfile.directory=\(dir)/textfile", "--web.disable-exporter-metrics",
    ]) else { return nil }
    processes.append(n)
    guard let o = launch(outpostBinary, [
        "--config.file=\(dir)/agent.yml", "--storage.agent.path=\(dir)/outpost", "--web.listen-address=127.0.0.1:\(outpostPort)",
    ]), let p = launch("/usr/bin/prometheus", [
        "--enable-feature=agent", "--config.file=\(dir)/agent.yml", "--storage.agent.path=\(dir)/prometheus",
        "--web.listen-address=127.0.0.1:\(promPort)",
    ]) else { return nil }
    processes += [o, p]
    let scrapes = 8
    func bytes(_ path: String) -> Double {
        let names = (try? fm.subpathsOfDirectory(atPath: path)) ?? []
        return Double(names.reduce(0) { $0 + ((try? fm.attributesOfItem(atPath: path + "/" + $1)[.size] as? Int) ?? 0) })
    }
    func metric(_ port: Int, _ name: String) -> Double? {
        guard let text = httpGet(port: port, path: "/metrics") else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") }
            .flatMap { Double($0.split(separator: " ").last ?? "") }
    }
    // Steady state: from after the first scrapes (series records written) to the end.
    for _ in 0..<12 {
        sleep(1)
        writeTextfile()
    }
    guard let o0 = metric(outpostPort, "outpost_wal_samples_appended_total"),
        let p0 = metric(promPort, "prometheus_agent_samples_appended_total")
    else { return nil }
    let ob0 = bytes(dir + "/outpost/wal")
    let pb0 = bytes(dir + "/prometheus/wal")
    for _ in 0..<(scrapes * 5) {
        sleep(1)
        writeTextfile()
    }
    guard let o1 = metric(outpostPort, "outpost_wal_samples_appended_total"), o1 > o0,
        let p1 = metric(promPort, "prometheus_agent_samples_appended_total"), p1 > p0
    else { return nil }
    return ((bytes(dir + "/outpost/wal") - ob0) / (o1 - o0), (bytes(dir + "/prometheus/wal") - pb0) / (p1 - p0), series, scrapes)
}

/// The body of a plain HTTP/1.0 GET to 127.0.0.1, or nil (connection refused, non-200).
func httpGet(port: Int, path: String) -> String? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
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
    guard text.hasPrefix("HTTP/1.1 200") || text.hasPrefix("HTTP/1.0 200"), let end = text.range(of: "\r\n\r\n") else { return nil }
    return String(text[end.upperBound...])
}
