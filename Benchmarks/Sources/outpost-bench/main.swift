import Discovery
import OutpostConfig
import OutpostModel
import Relabel
import Scrape
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// Micro-benchmarks of the relabel engine and of the scrape path with and without metric relabeling.
// Each figure is the median of several timed rounds; run in release mode (`make bench`).

/// Median nanoseconds per operation over `rounds` rounds of `ops` operations.
func measure(rounds: Int = 7, ops: Int, _ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    var results: [Double] = []
    body()  // warm-up
    for _ in 0..<rounds {
        let start = clock.now
        body()
        let elapsed = clock.now - start
        let (s, atto) = elapsed.components
        results.append((Double(s) * 1e9 + Double(atto) / 1e9) / Double(ops))
    }
    results.sort()
    return results[results.count / 2]
}

func rule(_ make: () throws -> RelabelRule) -> RelabelRule {
    do { return try make() } catch {
        fatalError("benchmark rule is invalid: \(error)")
    }
}

final class CountingResolver: SeriesResolver {
    let next = Mutex<UInt64>(1)
    func seriesRef(for labels: Labels) -> SeriesRef {
        next.withLock {
            $0 += 1
            return SeriesRef($0)
        }
    }
}

// MARK: - Kubernetes pod target chain (about 10 rules)

let podRules: [RelabelRule] = [
    rule { try RelabelRule(action: .keep, sourceLabels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], regex: "true") },
    rule { try RelabelRule(action: .drop, sourceLabels: ["__meta_kubernetes_pod_phase"], regex: "Pending|Succeeded|Failed|Completed") },
    rule {
        try RelabelRule(
            sourceLabels: ["__meta_kubernetes_pod_annotation_prometheus_io_path"], regex: "(.+)", targetLabel: "__metrics_path__")
    },
    rule {
        try RelabelRule(
            sourceLabels: ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
            regex: "([^:]+)(?::\\d+)?;(\\d+)", targetLabel: "__address__", replacement: "$1:$2")
    },
    rule { try RelabelRule(action: .labelmap, regex: "__meta_kubernetes_pod_label_(.+)") },
    rule { try RelabelRule(sourceLabels: ["__meta_kubernetes_namespace"], targetLabel: "namespace") },
    rule { try RelabelRule(sourceLabels: ["__meta_kubernetes_pod_name"], targetLabel: "pod") },
    rule { try RelabelRule(sourceLabels: ["__meta_kubernetes_pod_container_name"], targetLabel: "container") },
    rule { try RelabelRule(sourceLabels: ["__meta_kubernetes_pod_node_name"], targetLabel: "node") },
    rule { try RelabelRule(action: .hashmod, sourceLabels: ["__address__"], modulus: 4, targetLabel: "__tmp_shard") },
    rule { try RelabelRule(action: .labeldrop, regex: "pod_template_hash|controller_revision_hash") },
]

func podTarget(_ i: Int) -> Labels {
    Labels([
        ("__address__", "10.1.\(i / 250).\(i % 250):8080"), ("__meta_kubernetes_namespace", "team-\(i % 20)"),
        ("__meta_kubernetes_pod_name", "checkout-7d9f8c6b5-\(i)x2lq"), ("__meta_kubernetes_pod_container_name", "app"),
        ("__meta_kubernetes_pod_node_name", "ip-10-0-\(i % 30)-12.eu-west-1.compute.internal"),
        ("__meta_kubernetes_pod_phase", "Running"), ("__meta_kubernetes_pod_ip", "10.1.\(i / 250).\(i % 250)"),
        ("__meta_kubernetes_pod_ready", "true"), ("__meta_kubernetes_pod_uid", "6f1c7e9a-2b1d-4c8e-9f3a-\(100000 + i)"),
        ("__meta_kubernetes_pod_annotation_prometheus_io_scrape", "true"),
        ("__meta_kubernetes_pod_annotation_prometheus_io_port", "9102"),
        ("__meta_kubernetes_pod_annotation_prometheus_io_path", "/metrics"),
        ("__meta_kubernetes_pod_label_app", "checkout"), ("__meta_kubernetes_pod_label_tier", "backend"),
        ("__meta_kubernetes_pod_label_pod_template_hash", "7d9f8c6b5"),
        ("__meta_kubernetes_pod_label_app_kubernetes_io_version", "1.24.\(i % 7)"),
        ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"), ("__meta_kubernetes_pod_controller_name", "checkout-7d9f8c6b5"),
        ("__meta_kubernetes_pod_host_ip", "10.0.\(i % 30).12"), ("job", "kubernetes-pods"),
    ])
}

let targets = (0..<2_000).map(podTarget)
var kept = 0
let podNs = measure(ops: targets.count) {
    for t in targets {
        var b = LabelsBuilder(t)
        if Relabeler.process(&b, podRules) { kept += 1 }
    }
}

// MARK: - Metric relabel chain (5 rules)

let metricRules: [RelabelRule] = [
    rule { try RelabelRule(action: .drop, sourceLabels: ["__name__"], regex: "go_gc_.*|go_memstats_.*_bytes_total") },
    rule { try RelabelRule(action: .labeldrop, regex: "tmp_.*") },
    rule { try RelabelRule(sourceLabels: ["code"], regex: "(\\d)..", targetLabel: "class", replacement: "${1}xx") },
    rule { try RelabelRule(sourceLabels: ["__name__", "handler"], separator: "@", regex: "http_.*@(/api/.*)", targetLabel: "api", replacement: "$1") },
    rule { try RelabelRule(action: .lowercase, sourceLabels: ["method"], targetLabel: "method") },
]

func series(_ i: Int) -> Labels {
    Labels([
        ("__name__", "http_requests_total"), ("code", ["200", "404", "500"][i % 3]), ("handler", "/api/v\(i % 3)/items/\(i % 97)"),
        ("method", ["GET", "POST"][i % 2]), ("instance", "10.1.2.3:8080"), ("job", "checkout"), ("namespace", "team-4"),
        ("pod", "checkout-7d9f8c6b5-x2lq"),
    ])
}
let seriesSets = (0..<5_000).map(series)
let metricNs = measure(ops: seriesSets.count) {
    for s in seriesSets {
        var b = LabelsBuilder(s)
        if Relabeler.process(&b, metricRules) { kept += 1 }
    }
}

// MARK: - Steady-state scrape with and without metric relabeling

var lines: [String] = []
for i in 0..<10_000 {
    lines.append(
        "http_requests_total{code=\"\(["200", "404", "500"][i % 3])\",handler=\"/api/v\(i % 3)/items/\(i)\",method=\"GET\"} \(i * 7).5")
}
let body = Array((lines.joined(separator: "\n") + "\n").utf8)

func scrapeNs(_ rules: [RelabelRule]) -> Double {
    var job = ScrapeConfig()
    job.jobName = "bench"
    job.metricRelabelConfigs = rules
    let group = TargetGroup(source: "0", targets: [[("__address__", "10.1.2.3:8080")]], labels: [])
    guard let target = ScrapeTarget.make(job: job, group: group, target: group.targets[0]).target else {
        fatalError("benchmark target dropped")
    }
    var core = ScrapeLoopCore(target: target, resolver: CountingResolver())
    var ts: Int64 = 0
    return measure(rounds: 9, ops: 1) {
        ts += 1000
        _ = body.withUnsafeBytes { core.ingest(body: $0, timestamp: ts) }
    }
}
let plainScrape = scrapeNs([])
let relabeledScrape = scrapeNs(metricRules)

func fmt(_ v: Double, _ digits: Int = 0) -> String {
    var s = String(Int64((v * pow(10, Double(digits))).rounded()))
    if digits > 0 {
        while s.count <= digits { s = "0" + s }
        s.insert(".", at: s.index(s.endIndex, offsetBy: -digits))
    }
    return s
}

let overhead = (relabeledScrape / plainScrape - 1) * 100
let table = """
    | benchmark | result |
    |---|---|
    | target relabel, Kubernetes pod chain (11 rules, 20 labels) | \(fmt(podNs)) ns per target |
    | metric relabel chain (5 rules, 8 labels), uncached | \(fmt(metricNs)) ns per series |
    | steady-state scrape, 10k series, no metric relabeling | \(fmt(plainScrape / 1000, 1)) µs per scrape (\(fmt(plainScrape / 10_000)) ns per sample) |
    | steady-state scrape, 10k series, 5 metric relabel rules | \(fmt(relabeledScrape / 1000, 1)) µs per scrape (\(fmt(relabeledScrape / 10_000)) ns per sample) |
    | cost of metric relabeling in steady state | \(fmt(overhead, 1)) % |

    """
print(table)
if kept == 0 { print("(no series kept)") }
let path = "../bench/results/relabel.md"
if let fp = fopen(path, "w") {
    fputs("# Relabel benchmark (`make bench`)\n\n" + table, fp)
    fclose(fp)
}
