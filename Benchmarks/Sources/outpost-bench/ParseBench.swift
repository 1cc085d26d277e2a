import CMallocCount
import Discovery
import Exposition
import OutpostConfig
import OutpostModel
import Scrape

#if canImport(Glibc)
import Glibc
#endif

// Parse throughput (MB/s, samples/s) per format on two bodies — a 2 MB node_exporter-like body and
// 100k series with long label sets (kube-state-metrics-like) — for the bare parser, the first scrape
// (every series new: labels read, relabeled, resolved) and the steady-state scrape through the
// cache, with heap allocations counted per steady-state scrape.

/// A body in both formats: the same families, samples and values.
struct Body {
    var name: String
    var text: [UInt8]
    var openMetrics: [UInt8]
    var samples: Int
}

/// node_exporter's shape: HELP/TYPE per family, CPU and filesystem counters, histograms, go_*
/// gauges; values of every kind (integers, decimals, exponents). About 2 MB.
func nodeExporterBody() -> Body {
    var text = ""
    var om = ""
    var samples = 0
    var rng = BenchRandom(seed: 42)
    func family(_ name: String, _ type: String, _ help: String, _ lines: [(String, String)]) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        om += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for (series, value) in lines {
            text += "\(series) \(value)\n"
            om += "\(series) \(value)\n"
            samples += 1
        }
    }
    func value() -> String {
        switch rng.next() % 4 {
        case 0: return String(rng.next() % 100_000)
        case 1: return "\(rng.next() % 10_000).\(rng.next() % 1000)"
        case 2: return "\(rng.next() % 10).\(rng.next() % 100_000_000)e+0\(rng.next() % 9)"
        default: return "\(rng.next() % 10).\(rng.next() % 1000)e-0\(rng.next() % 9)"
        }
    }
    var round = 0
    while text.utf8.count < 2_000_000 {
        let r = "r\(round)"
        let modes = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
        family(
            "node_cpu_seconds_total_\(r)", "counter", "Seconds the CPUs spent in each mode.",
            (0..<32).flatMap { cpu in modes.map { ("node_cpu_seconds_total_\(r){cpu=\"\(cpu)\",mode=\"\($0)\"}", value()) } })
        family(
            "node_filesystem_avail_bytes_\(r)", "gauge", "Filesystem space available to non-root users in bytes.",
            (0..<40).map {
                ("node_filesystem_avail_bytes_\(r){device=\"/dev/nvme0n1p\($0)\",fstype=\"ext4\",mountpoint=\"/var/lib/kubelet/pods/\($0)\"}", value())
            })
        let bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
        family(
            "http_request_duration_seconds_\(r)", "histogram", "Request latency.",
            (0..<10).flatMap { h in
                bounds.map { ("http_request_duration_seconds_\(r)_bucket{handler=\"/api/v\(h)\",le=\"\($0)\"}", String(rng.next() % 10_000)) }
                    + [
                        ("http_request_duration_seconds_\(r)_sum{handler=\"/api/v\(h)\"}", value()),
                        ("http_request_duration_seconds_\(r)_count{handler=\"/api/v\(h)\"}", String(rng.next() % 10_000)),
                    ]
            })
        family("go_goroutines_\(r)", "gauge", "Number of goroutines that currently exist.", [("go_goroutines_\(r)", value())])
        round += 1
    }
    om += "# EOF\n"
    return Body(name: "node_exporter-like, 2 MB", text: Array(text.utf8), openMetrics: Array(om.utf8), samples: samples)
}

/// kube-state-metrics' shape: 100k series, seven long labels each, 0/1 and counter values.
func wideBody() -> Body {
    var text = "# HELP kube_pod_container_status_ready Describes whether the container is ready.\n"
    text += "# TYPE kube_pod_container_status_ready gauge\n"
    var rng = BenchRandom(seed: 7)
    for i in 0..<100_000 {
        let ns = "team-\(i % 97)-production"
        let pod = "checkout-service-\(i / 7)-7d9f8b6c5d-\(String(rng.next() % 1_000_000, radix: 36))"
        text += "kube_pod_container_status_ready{namespace=\"\(ns)\",pod=\"\(pod)\",container=\"app-\(i % 7)\","
        text += "uid=\"3f2c9a1e-\(i)-4b7d-9c1a-0e6f5d4c3b2a\",node=\"ip-10-0-\(i % 251)-\(i % 13).ec2.internal\","
        text += "image=\"registry.example.com/shop/checkout:v1.\(i % 40).3\",phase=\"Running\"} \(rng.next() % 2)\n"
    }
    let om = text + "# EOF\n"
    return Body(name: "100k series, long label sets", text: Array(text.utf8), openMetrics: Array(om.utf8), samples: 100_000)
}

struct BenchRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Resolves without storing, so the benchmark measures the scrape path, not a series table.
final class NullResolver: SeriesResolver {
    func seriesRef(for labels: Labels) -> SeriesRef { SeriesRef(UInt64(labels.count + 1)) }
}

func parseTarget() -> ScrapeTarget {
    var job = ScrapeConfig()
    job.jobName = "bench"
    let group = TargetGroup(source: "0", targets: [[("__address__", "127.0.0.1:9100")]], labels: [])
    guard let target = ScrapeTarget.make(job: job, group: group, target: group.targets[0]).target else {
        fatalError("benchmark target is invalid")
    }
    return target
}

func parseBenchmark() {
    var rows: [String] = []
    var headline: [String] = []
    for body in [nodeExporterBody(), wideBody()] {
        for (formatName, format, bytes) in [
            ("text 0.0.4", ExpositionFormat.prometheusText, body.text),
            ("OpenMetrics 1.0", ExpositionFormat.openMetrics, body.openMetrics),
        ] {
            let mb = Double(bytes.count) / 1_000_000
            // The bare parser: every line to ranges and numbers.
            let parseNs = bytes.withUnsafeBytes { raw in
                measure(ops: 1) {
                    var line = ExpositionSample()
                    var n = 0
                    if format == .openMetrics {
                        var p = OpenMetricsParser(raw)
                        while (try? p.next(&line)) == true { n += 1 }
                    } else {
                        var p = TextParser(raw)
                        while (try? p.next(&line)) == true { n += 1 }
                    }
                    precondition(n == body.samples, "parsed \(n) of \(body.samples) samples")
                }
            }
            // First scrape: every series is new.
            let target = parseTarget()
            let firstNs = bytes.withUnsafeBytes { raw in
                measure(rounds: 3, ops: 1) {
                    var core = ScrapeLoopCore(target: target, resolver: NullResolver())
                    guard case .success = core.ingest(body: raw, format: format, timestamp: 1) else {
                        fatalError("benchmark body failed to parse")
                    }
                }
            }
            // Steady state: the same series again, through the cache.
            var core = ScrapeLoopCore(target: target, resolver: NullResolver())
            var ts: Int64 = 1
            let cachedNs = bytes.withUnsafeBytes { raw in
                measure(ops: 1) {
                    ts += 1
                    guard case .success = core.ingest(body: raw, format: format, timestamp: ts) else {
                        fatalError("benchmark body failed to parse")
                    }
                }
            }
            let allocationsBefore = malloc_count_allocations()
            let scrapes: UInt64 = 10
            bytes.withUnsafeBytes { raw in
                for _ in 0..<scrapes {
                    ts += 1
                    _ = core.ingest(body: raw, format: format, timestamp: ts)
                }
            }
            let allocations = Double(malloc_count_allocations() - allocationsBefore) / Double(scrapes)
            func mbps(_ ns: Double) -> String { fmt(mb / (ns / 1e9), 0) }
            func msps(_ ns: Double) -> String { fmt(Double(body.samples) / (ns / 1e9) / 1e6, 2) }
            rows.append(
                "| \(body.name) | \(formatName) | \(mbps(parseNs)) MB/s, \(msps(parseNs)) M samples/s "
                    + "| \(mbps(firstNs)) MB/s, \(msps(firstNs)) M samples/s "
                    + "| \(mbps(cachedNs)) MB/s, \(msps(cachedNs)) M samples/s | \(fmt(allocations, 1)) |")
            if formatName.hasPrefix("text") {
                headline.append("\(body.name): cached text scrape \(mbps(cachedNs)) MB/s, \(fmt(allocations, 1)) allocations per scrape")
            }
        }
    }
    let table = """
        # Exposition parsing and the scrape path

        One core, release build. The bare parser turns every line into ranges and numbers; the first
        scrape also reads labels, relabels and resolves every series; the steady-state scrape finds
        every series in the scrape cache (the cost every later scrape pays). Allocations are heap
        allocations counted by interposing malloc, per steady-state scrape of the whole body.
        `make bench` (or `cd Benchmarks && swift run -c release outpost-bench parse`) reproduces it.

        | body | format | parser only | first scrape | steady-state scrape | allocations per steady-state scrape |
        |---|---|---|---|---|---|
        \(rows.joined(separator: "\n"))

        """
    print(table)
    for line in headline { print(line) }
    writeResult("parse.md", table)
}
