import Foundation

#if canImport(Glibc)
import Glibc
#endif

// The end-to-end benchmark: Outpost, vmagent and the Prometheus agent scrape the same targets
// (served by nginx from files whose values change every interval) and forward to the same
// VictoriaMetrics, in turn (A B C A B C …), each started fresh. Over a fixed window after a
// warm-up it measures forwarded samples/s at the sink, CPU core-seconds per million forwarded
// samples, RSS (mean, peak, per active series), WAL bytes per sample and wire bytes per sample.
// `outpost-bench e2e [small|large|wide|sweep]…` (`make bench-e2e`).

struct Profile {
    var name: String
    var targets: Int
    var seriesPerTarget: Int
    var interval = 5
    var warmup = 25
    var window = 60
    var rounds = 3
    /// Long kube-state-metrics label sets instead of the node_exporter-like mix.
    var wide = false

    static func named(_ name: String) -> [Profile] {
        switch name {
        case "small": return [Profile(name: "small", targets: 50, seriesPerTarget: 2_000)]
        case "large": return [Profile(name: "large", targets: 200, seriesPerTarget: 2_500)]
        case "wide": return [Profile(name: "wide", targets: 3, seriesPerTarget: 100_000, wide: true)]
        case "sweep":
            return [10, 100, 1_000].map {
                Profile(name: "sweep-\($0)", targets: $0, seriesPerTarget: 200, warmup: 20, window: 40, rounds: 1)
            }
        case "smoke": return [Profile(name: "smoke", targets: 5, seriesPerTarget: 500, warmup: 10, window: 15, rounds: 1)]
        default: return []
        }
    }

    var activeSeries: Int { targets * (seriesPerTarget + 5) }
}

enum Agent: String, CaseIterable {
    case outpost = "Outpost"
    case vmagent = "vmagent"
    case prometheus = "Prometheus agent"
}

struct RunResult {
    var agent: Agent
    var samplesPerSecond: Double
    var coreSecondsPerMillion: Double
    var rssMean: Double
    var rssPeak: Double
    var diskBytesPerSample: Double
    var wireBytesPerSample: Double
}

/// Files for each target in a few value variants; `serve(variant:)` points the served path at one.
final class TargetFiles {
    let root: String
    let profile: Profile
    let variants = 3

    init(root: String, profile: Profile) {
        self.root = root
        self.profile = profile
        let fm = FileManager.default
        try? fm.createDirectory(atPath: root + "/serve", withIntermediateDirectories: true)
        for v in 0..<variants {
            try? fm.createDirectory(atPath: root + "/v\(v)", withIntermediateDirectories: true)
        }
        // Targets share shapes (as pods of one deployment do); every target file is its own copy.
        var rng = BenchRandom(seed: UInt64(profile.seriesPerTarget))
        let series = profile.wide ? wideSeries(profile.seriesPerTarget) : mixedSeries(profile.seriesPerTarget)
        for v in 0..<variants {
            var body = ""
            body.reserveCapacity(series.count * 120)
            var lastFamily = ""
            for (family, type, line, kind) in series {
                if family != lastFamily {
                    body += "# HELP \(family) Generated \(type) family.\n# TYPE \(family) \(type)\n"
                    lastFamily = family
                }
                body += line + " " + value(kind, variant: v, &rng) + "\n"
            }
            let bytes = Array(body.utf8)
            for t in 0..<profile.targets {
                let fd = open(root + "/v\(v)/t\(t).txt", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
        }
        serve(variant: 0)
    }

    /// Re-points every served file at `variant` (a rename per target: nginx never sees half a file).
    func serve(variant: Int) {
        for t in 0..<profile.targets {
            let link = root + "/serve/t\(t).txt"
            unlink(link + ".new")
            symlink(root + "/v\(variant % variants)/t\(t).txt", link + ".new")
            rename(link + ".new", link)
        }
    }

    enum Kind { case counter, gauge, bucket, small }

    private func value(_ kind: Kind, variant: Int, _ rng: inout BenchRandom) -> String {
        switch kind {
        case .counter: return String(1_000 + variant * 37 + Int(rng.next() % 1_000_000))
        case .bucket: return String(variant * 11 + Int(rng.next() % 100_000))
        case .small: return rng.next() % 2 == 0 ? "0" : "1"
        case .gauge:
            let v = Double(rng.next() % 10_000_000) / 1_000
            return v == v.rounded() ? String(Int(v)) : String(v)
        }
    }

    /// node_exporter and application metrics: CPU counters, filesystem gauges, request histograms,
    /// GC summaries.
    private func mixedSeries(_ n: Int) -> [(String, String, String, Kind)] {
        var out: [(String, String, String, Kind)] = []
        var round = 0
        let modes = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
        let bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
        while out.count < n {
            let r = round == 0 ? "" : "_\(round)"
            for cpu in 0..<8 {
                for m in modes {
                    out.append(("node_cpu_seconds_total\(r)", "counter", "node_cpu_seconds_total\(r){cpu=\"\(cpu)\",mode=\"\(m)\"}", .counter))
                }
            }
            for d in 0..<16 {
                out.append((
                    "node_filesystem_avail_bytes\(r)", "gauge",
                    "node_filesystem_avail_bytes\(r){device=\"/dev/nvme0n1p\(d)\",fstype=\"ext4\",mountpoint=\"/var/lib/kubelet/pods/\(d)/volumes\"}",
                    .gauge
                ))
            }
            for h in ["/api/v1/query", "/api/v1/write", "/metrics", "/healthz"] {
                for method in ["GET", "POST"] {
                    let base = "http_request_duration_seconds\(r)"
                    for le in bounds {
                        out.append((base, "histogram", "\(base)_bucket{handler=\"\(h)\",method=\"\(method)\",le=\"\(le)\"}", .bucket))
                    }
                    out.append((base, "histogram", "\(base)_sum{handler=\"\(h)\",method=\"\(method)\"}", .gauge))
                    out.append((base, "histogram", "\(base)_count{handler=\"\(h)\",method=\"\(method)\"}", .bucket))
                }
            }
            for q in ["0", "0.25", "0.5", "0.75", "1"] {
                out.append(("go_gc_duration_seconds\(r)", "summary", "go_gc_duration_seconds\(r){quantile=\"\(q)\"}", .gauge))
            }
            out.append(("go_gc_duration_seconds\(r)", "summary", "go_gc_duration_seconds\(r)_sum", .gauge))
            out.append(("go_gc_duration_seconds\(r)", "summary", "go_gc_duration_seconds\(r)_count", .counter))
            round += 1
        }
        return Array(out.prefix(n))
    }

    /// kube-state-metrics on a big cluster: one family per object kind, seven long labels.
    private func wideSeries(_ n: Int) -> [(String, String, String, Kind)] {
        (0..<n).map { i in
            let family = ["kube_pod_status_ready", "kube_pod_container_info", "kube_pod_owner", "kube_pod_labels"][i * 4 / n]
            let line =
                "\(family){namespace=\"team-\(i % 97)-production\",pod=\"checkout-\(i / 7)-7d9f8b6c5d-\(i % 10_007)\","
                + "container=\"app-\(i % 7)\",uid=\"3f2c9a1e-\(i)-4b7d-9c1a-0e6f5d4c3b2a\","
                + "node=\"ip-10-0-\(i % 251)-\(i % 13).ec2.internal\",condition=\"true\"}"
            return (family, "gauge", line, .small)
        }
    }
}

/// The PIDs of the processes the benchmark started, so an interrupted run (SIGINT, SIGTERM) stops
/// them too. Preallocated, fixed size: the signal handler only reads it.
nonisolated(unsafe) var childPIDs = [Int32](repeating: 0, count: 16)

func stopChildrenOnInterrupt() {
    for sig in [SIGINT, SIGTERM] {
        signal(sig) { _ in
            for pid in childPIDs where pid > 0 { kill(pid, SIGKILL) }
            _exit(130)
        }
    }
}

/// A started process we own, stopped by PID.
final class Child {
    let process = Process()
    init?(_ path: String, _ args: [String], log: String) {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)
        process.standardOutput = handle ?? FileHandle.nullDevice
        process.standardError = handle ?? FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        if let slot = childPIDs.firstIndex(of: 0) { childPIDs[slot] = process.processIdentifier }
    }
    var pid: Int32 { process.processIdentifier }
    func stop() {
        if let slot = childPIDs.firstIndex(of: pid) { childPIDs[slot] = 0 }
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        for _ in 0..<200 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}

/// utime + stime of `pid`, in seconds.
func cpuSeconds(_ pid: Int32) -> Double? {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
    let text = String(decoding: data, as: UTF8.self)
    guard let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // After the command: state is field 3, utime 14, stime 15 (1-based over the whole line).
    guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return nil }
    return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

func rssBytes(_ pid: Int32) -> Double? {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/status") else { return nil }
    let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
    return line?.split(separator: " ").dropFirst().first.flatMap { Double($0) }.map { $0 * 1024 }
}

func directoryBytes(_ path: String) -> Double {
    let fm = FileManager.default
    let names = (try? fm.subpathsOfDirectory(atPath: path)) ?? []
    return Double(names.reduce(0) { $0 + ((try? fm.attributesOfItem(atPath: path + "/" + $1)[.size] as? Int) ?? 0) })
}

/// The sum of every sample of `name` on a `/metrics` page.
func metricSum(_ text: String?, _ name: String) -> Double? {
    guard let text else { return nil }
    var sum = 0.0
    var found = false
    for line in text.split(separator: "\n") where line.hasPrefix(name + " ") || line.hasPrefix(name + "{") {
        if let v = Double(line.split(separator: " ").last ?? "") {
            sum += v
            found = true
        }
    }
    return found ? sum : nil
}

func agentBenchmark(_ names: [String]) {
    let fm = FileManager.default
    let outpost = releaseOutpost()
    for (path, what) in [
        (outpost, "the release binary (make release)"), ("/usr/sbin/nginx", "nginx"), ("/usr/bin/vmagent", "vmagent"),
        ("/usr/bin/victoria-metrics", "victoria-metrics"), ("/usr/bin/prometheus", "prometheus"),
    ] where !fm.fileExists(atPath: path) {
        print("e2e benchmark skipped: \(what) missing at \(path) (make bench-e2e installs it)")
        return
    }
    var profiles = (names.isEmpty ? ["small", "large"] : names).flatMap { Profile.named($0) }
    // OUTPOST_BENCH_ROUNDS overrides the number of alternations (for quick checks).
    if let rounds = Int(ProcessInfo.processInfo.environment["OUTPOST_BENCH_ROUNDS"] ?? ""), rounds > 0 {
        for i in profiles.indices { profiles[i].rounds = rounds }
    }
    stopChildrenOnInterrupt()
    var sections: [String] = []
    var json: [String] = []
    for profile in profiles {
        let dir = NSTemporaryDirectory() + "outpost-e2e-bench-\(profile.name)-\(getpid())"
        try? fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: dir) }
        print("[\(profile.name)] \(profile.targets) targets × \(profile.seriesPerTarget) series, \(profile.interval)s interval: generating targets")
        let files = TargetFiles(root: dir + "/targets", profile: profile)
        let base = 20_000 + Int(getpid() % 500) * 10
        let nginxPort = base
        let sinkPort = base + 1
        let agentPort = base + 2
        let nginxConf = """
            \(getuid() == 0 ? "user root;" : "")
            worker_processes 1;
            daemon off;
            pid \(dir)/nginx.pid;
            error_log \(dir)/nginx-error.log;
            events { worker_connections 4096; }
            http {
              access_log off;
              default_type text/plain;
              client_body_temp_path \(dir)/nginx-tmp;
              proxy_temp_path \(dir)/nginx-tmp;
              fastcgi_temp_path \(dir)/nginx-tmp;
              uwsgi_temp_path \(dir)/nginx-tmp;
              scgi_temp_path \(dir)/nginx-tmp;
              keepalive_requests 100000;
              server {
                listen 127.0.0.1:\(nginxPort);
                root \(dir)/targets/serve;
                open_file_cache off;
              }
            }
            """
        try? nginxConf.write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
        guard let nginx = Child("/usr/sbin/nginx", ["-c", dir + "/nginx.conf", "-p", dir], log: dir + "/nginx.log"),
            let sink = Child(
                "/usr/bin/victoria-metrics",
                ["-storageDataPath=\(dir)/vm", "-httpListenAddr=127.0.0.1:\(sinkPort)", "-retentionPeriod=1d",
                 "-loggerLevel=ERROR"], log: dir + "/vm.log")
        else {
            print("could not start nginx or victoria-metrics")
            return
        }
        defer {
            nginx.stop()
            sink.stop()
        }
        let scrapeJob = """
            scrape_configs:
              - job_name: bench
                scrape_interval: \(profile.interval)s
                scrape_timeout: \(profile.interval)s
                metric_relabel_configs:
                  - source_labels: [__name__]
                    regex: "debug_.*"
                    action: drop
                static_configs:
            \((0..<profile.targets).map { t in
                "      - targets: [\"127.0.0.1:\(nginxPort)\"]\n        labels: {instance: \"target-\(t)\", __metrics_path__: \"/t\(t).txt\"}"
            }.joined(separator: "\n"))
            """
        try? scrapeJob.write(toFile: dir + "/scrape.yml", atomically: true, encoding: .utf8)
        let agentConfig = scrapeJob + "\nremote_write:\n  - url: http://127.0.0.1:\(sinkPort)/api/v1/write\n"
        try? agentConfig.write(toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
        for _ in 0..<100 where httpGet(port: sinkPort, path: "/health") == nil { usleep(100_000) }
        guard httpGet(port: nginxPort, path: "/t0.txt") != nil else {
            print("nginx does not serve the targets; see \(dir)/nginx-error.log")
            return
        }

        var results: [RunResult] = []
        var variant = 0
        // OUTPOST_BENCH_AGENTS=Outpost (comma-separated) runs a subset, e.g. while profiling.
        let only = ProcessInfo.processInfo.environment["OUTPOST_BENCH_AGENTS"]?.split(separator: ",").map(String.init)
        for round in 0..<profile.rounds {
            for agent in Agent.allCases where only?.contains(agent.rawValue) ?? true {
                let data = dir + "/data-\(agent)-\(round)"
                let args: [String]
                let binary: String
                switch agent {
                case .outpost:
                    binary = outpost
                    args = ["--config.file=\(dir)/agent.yml", "--storage.agent.path=\(data)", "--web.listen-address=127.0.0.1:\(agentPort)"]
                case .prometheus:
                    binary = "/usr/bin/prometheus"
                    args = [
                        "--enable-feature=agent", "--config.file=\(dir)/agent.yml", "--storage.agent.path=\(data)",
                        "--web.listen-address=127.0.0.1:\(agentPort)",
                    ]
                case .vmagent:
                    binary = "/usr/bin/vmagent"
                    args = [
                        "-promscrape.config=\(dir)/scrape.yml", "-remoteWrite.url=http://127.0.0.1:\(sinkPort)/api/v1/write",
                        "-remoteWrite.tmpDataPath=\(data)", "-httpListenAddr=127.0.0.1:\(agentPort)", "-loggerLevel=ERROR",
                        // Outpost and Prometheus take bodies of any size by default; vmagent stops at
                        // 16 MB, below one `wide` target (~20 MB), and would scrape nothing there.
                        "-promscrape.maxScrapeSize=1073741824",
                    ]
                }
                guard let child = Child(binary, args, log: dir + "/\(agent)-\(round).log") else {
                    print("could not start \(agent.rawValue)")
                    continue
                }
                let clock = ContinuousClock()
                var nextRotate = clock.now + .seconds(profile.interval)
                func tick(until end: ContinuousClock.Instant, sample: (() -> Void)? = nil) {
                    while clock.now < end && child.process.isRunning {
                        if clock.now >= nextRotate {
                            variant += 1
                            files.serve(variant: variant)
                            nextRotate = nextRotate + .seconds(profile.interval)
                        }
                        sample?()
                        usleep(1_000_000)
                    }
                }
                tick(until: clock.now + .seconds(profile.warmup))
                let wireMetric: String =
                    agent == .vmagent ? "vmagent_remotewrite_bytes_sent_total" : "prometheus_remote_storage_bytes_total"
                guard let s0 = metricSum(httpGet(port: sinkPort, path: "/metrics"), "vm_rows_inserted_total"),
                    let c0 = cpuSeconds(child.pid)
                else {
                    print("\(agent.rawValue): no readings at the start of the window")
                    child.stop()
                    continue
                }
                let w0 = metricSum(httpGet(port: agentPort, path: "/metrics"), wireMetric) ?? 0
                let d0 = directoryBytes(data)
                var rss: [Double] = []
                let started = clock.now
                tick(until: started + .seconds(profile.window)) { if let r = rssBytes(child.pid) { rss.append(r) } }
                let seconds = Double((clock.now - started).components.seconds)
                    + Double((clock.now - started).components.attoseconds) / 1e18
                let c1 = cpuSeconds(child.pid) ?? c0
                let w1 = metricSum(httpGet(port: agentPort, path: "/metrics"), wireMetric) ?? w0
                let d1 = directoryBytes(data)
                let s1 = metricSum(httpGet(port: sinkPort, path: "/metrics"), "vm_rows_inserted_total") ?? s0
                child.stop()
                try? fm.removeItem(atPath: data)
                let forwarded = s1 - s0
                guard forwarded > 0, !rss.isEmpty else {
                    print("\(agent.rawValue): nothing forwarded in the window; see \(dir)/\(agent)-\(round).log")
                    continue
                }
                let r = RunResult(
                    agent: agent, samplesPerSecond: forwarded / seconds, coreSecondsPerMillion: (c1 - c0) / (forwarded / 1e6),
                    rssMean: rss.reduce(0, +) / Double(rss.count), rssPeak: rss.max() ?? 0,
                    diskBytesPerSample: max(0, d1 - d0) / forwarded, wireBytesPerSample: (w1 - w0) / forwarded)
                results.append(r)
                fflush(nil)
                print(
                    "[\(profile.name)] round \(round + 1) \(agent.rawValue): \(fmt(r.samplesPerSecond)) samples/s, "
                        + "\(fmt(r.coreSecondsPerMillion, 2)) core-s/M, RSS \(fmt(r.rssMean / 1e6, 1)) MB mean "
                        + "\(fmt(r.rssPeak / 1e6, 1)) MB peak, \(fmt(r.diskBytesPerSample, 2)) disk B/sample, "
                        + "\(fmt(r.wireBytesPerSample, 2)) wire B/sample")
                fflush(nil)
            }
        }
        let (section, entry) = report(profile, results)
        sections.append(section)
        json.append(entry)
        print(section)
    }
    guard !sections.isEmpty else { return }
    let header = """
        # End-to-end: Outpost, vmagent and the Prometheus agent on the same targets

        Each agent in turn (A B C A B C …), started fresh, scraping the same nginx-served targets (values
        change every interval) with the same config (one metric relabel rule, one remote endpoint) and
        forwarding to the same VictoriaMetrics. Medians over the rounds, measured over the window after
        the warm-up; CPU is the agent's utime+stime; RSS per series is the mean RSS over active series.
        Peers from Debian (vmagent from victoria-metrics \(debianVersion("victoria-metrics")), Prometheus
        \(debianVersion("prometheus"))); machine: \(machineLine()).
        Reproduce with `make bench-e2e` (or `cd Benchmarks && swift run -c release outpost-bench e2e small large`).

        """
    let name = profiles.count == 1 ? "e2e-\(profiles[0].name)" : "e2e"
    writeResult(name + ".md", header + sections.joined(separator: "\n"))
    writeResult(name + ".json", "[\n" + json.joined(separator: ",\n") + "\n]\n")
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func report(_ profile: Profile, _ results: [RunResult]) -> (String, String) {
    struct Row {
        var sps, cpu, rssMean, rssPeak, perSeries, disk, wire: Double
    }
    var rows: [Agent: Row] = [:]
    for agent in Agent.allCases {
        let rs = results.filter { $0.agent == agent }
        guard !rs.isEmpty else { continue }
        let rssMean = median(rs.map(\.rssMean))
        rows[agent] = Row(
            sps: median(rs.map(\.samplesPerSecond)), cpu: median(rs.map(\.coreSecondsPerMillion)), rssMean: rssMean,
            rssPeak: median(rs.map(\.rssPeak)), perSeries: rssMean / Double(profile.activeSeries),
            disk: median(rs.map(\.diskBytesPerSample)), wire: median(rs.map(\.wireBytesPerSample)))
    }
    var table = """
        ## \(profile.name): \(profile.targets) targets × \(profile.seriesPerTarget) series (\(profile.activeSeries) active series), \(profile.interval)s interval, \(profile.window)s window, \(profile.rounds) round(s)

        | agent | forwarded samples/s | CPU core-s per M samples | RSS mean | RSS peak | RSS B/series | disk B/sample | wire B/sample |
        |---|---|---|---|---|---|---|---|

        """
    for agent in Agent.allCases {
        guard let r = rows[agent] else { continue }
        table +=
            "| \(agent.rawValue) | \(fmt(r.sps)) | \(fmt(r.cpu, 2)) | \(fmt(r.rssMean / 1e6, 1)) MB | \(fmt(r.rssPeak / 1e6, 1)) MB "
            + "| \(fmt(r.perSeries)) | \(fmt(r.disk, 2)) | \(fmt(r.wire, 2)) |\n"
    }
    if let o = rows[.outpost] {
        for peer in [Agent.vmagent, .prometheus] {
            guard let p = rows[peer] else { continue }
            table +=
                "| Outpost / \(peer.rawValue) | \(fmt(o.sps / p.sps, 2))× | \(fmt(o.cpu / p.cpu, 2))× | \(fmt(o.rssMean / p.rssMean, 2))× "
                + "| \(fmt(o.rssPeak / p.rssPeak, 2))× | \(fmt(o.perSeries / p.perSeries, 2))× "
                + "| \(p.disk > 0 ? fmt(o.disk / p.disk, 2) + "×" : "n/a") | \(fmt(o.wire / p.wire, 2))× |\n"
        }
    }
    var json = "  {\"profile\": \"\(profile.name)\", \"targets\": \(profile.targets), \"series_per_target\": \(profile.seriesPerTarget), "
    json += "\"active_series\": \(profile.activeSeries), \"interval_seconds\": \(profile.interval), \"rounds\": \(profile.rounds), \"agents\": {"
    json += Agent.allCases.compactMap { agent -> String? in
        guard let r = rows[agent] else { return nil }
        return "\"\(agent.rawValue)\": {\"samples_per_second\": \(r.sps), \"core_seconds_per_million\": \(r.cpu), "
            + "\"rss_mean_bytes\": \(r.rssMean), \"rss_peak_bytes\": \(r.rssPeak), \"rss_bytes_per_series\": \(r.perSeries), "
            + "\"disk_bytes_per_sample\": \(r.disk), \"wire_bytes_per_sample\": \(r.wire)}"
    }.joined(separator: ", ")
    json += "}}"
    return (table, json)
}

/// The installed version of a Debian package.
func debianVersion(_ package: String) -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/dpkg-query")
    p.arguments = ["-W", "-f=${Version}", package]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return "?" }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    return text.isEmpty ? "?" : text
}

func machineLine() -> String {
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
        .first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "?"
    return "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu)"
}
