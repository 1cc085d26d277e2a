import Foundation
import OutpostConfig
import OutpostModel
import RemoteWrite

/// Remote-write encode + compress on one core, 1.0 against 2.0: samples per second and bytes on
/// the wire per sample for batches of 2,000 samples (Prometheus' max_samples_per_send) from a
/// node_exporter-like series set (10 targets × 2,000 series, ~300 families with metadata).
func encodeBenchmark() {
    let targets = 10
    let perTarget = 2_000
    var series: [(SeriesRef, Labels)] = []
    var families: [MetricMetadata] = []
    let modes = ["user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"]
    for f in 0..<300 {
        let type: MetricType = f % 3 == 0 ? .gauge : (f % 3 == 1 ? .counter : .histogram)
        families.append(
            MetricMetadata(
                family: "node_subsystem_\(f)_metric\(type == .counter ? "_total" : "")", type: type,
                help: "Node subsystem \(f) statistic, as reported by the kernel.", unit: type == .histogram ? "seconds" : ""))
    }
    var ref: UInt64 = 0
    for t in 0..<targets {
        for i in 0..<perTarget {
            ref += 1
            // Family by family, as an exposition lists them (so series of one family are adjacent).
            let family = families[i * families.count / perTarget]
            // The labels a ServiceMonitor-scraped node_exporter carries on a Kubernetes cluster.
            var pairs: [(String, String)] = [
                ("__name__", family.type == .histogram ? family.family + "_bucket" : family.family),
                ("container", "node-exporter"), ("endpoint", "https"), ("instance", "10.0.\(t).\(10 + t):9100"),
                ("job", "node-exporter"), ("namespace", "openshift-monitoring"),
                ("pod", "node-exporter-\(t)x7k2q"), ("service", "node-exporter"),
            ]
            switch i % 4 {
            case 0: pairs += [("cpu", String(i % 64)), ("mode", modes[i % modes.count])]
            case 1: pairs += [("device", "nvme\(i % 4)n1p\(i % 3)")]
            case 2: pairs += [("le", ["0.005", "0.01", "0.1", "1.0", "+Inf"][i % 5])]
            default: break
            }
            series.append((SeriesRef(ref), Labels(pairs)))
        }
    }
    let total = series.count
    var batches: [[Sample]] = []
    var ts: Int64 = 1_790_000_000_000
    for round in 0..<10 {
        ts += 15_000
        var all: [Sample] = []
        // Values like a node_exporter's: growing integer counters, decimal gauges, 0/1 flags.
        for (k, s) in series.enumerated() {
            let v: Double
            switch k % 10 {
            case 0..<6: v = Double(k * 131 + round * ((k * 7) % 50))
            case 6..<9: v = Double((k * 31 + round) % 100_000) / 100
            default: v = Double((k + round) % 2)
            }
            all.append(Sample(ref: s.0, timestamp: ts, value: v))
        }
        for start in stride(from: 0, to: all.count, by: 2_000) {
            batches.append(Array(all[start..<min(all.count, start + 2_000)]))
        }
    }
    var rows: [(name: String, rate: Double, wire: Double, raw: Double)] = []
    for format in [RemoteWriteConfig.ProtobufMessage.v1, .v2] {
        var builder = WriteRequestBuilder(format: format, externalLabels: Labels([("cluster", "eu-west-prod-17")]))
        for m in families { builder.addMetadata(m) }
        for (r, l) in series { builder.addSeries(r, l) }
        var out: [UInt8] = []
        var wire = 0
        var raw = 0
        var samples = 0
        for b in batches.prefix(20) { builder.build(b, into: &out) }  // warm-up
        let clock = ContinuousClock()
        let start = clock.now
        var passes = 0
        while clock.now - start < .seconds(3) || passes < 2 {
            for b in batches {
                samples += builder.build(b, into: &out)
                wire += out.count
                raw += builder.uncompressedCount
            }
            passes += 1
        }
        let seconds = Double((clock.now - start).components.attoseconds) / 1e18 + Double((clock.now - start).components.seconds)
        rows.append((format.rawValue, Double(samples) / seconds, Double(wire) / Double(samples), Double(raw) / Double(samples)))
    }
    var text = "## Remote-write encode + compress (one core)\n\n"
    text += "\(total) node_exporter-like series with metadata, batches of 2,000 samples.\n\n"
    text += "| message | samples/s | wire bytes/sample (snappy) | bytes/sample before snappy |\n|---|---|---|---|\n"
    for r in rows {
        text += "| `\(r.name)` | \(fmt(r.rate)) | \(fmt(r.wire, 2)) | \(fmt(r.raw, 2)) |\n"
    }
    if rows.count == 2 {
        text += "\n2.0 sends \(fmt(rows[0].wire / rows[1].wire, 2))× fewer bytes on the wire per sample than 1.0, "
        text += "at \(fmt(rows[1].rate / rows[0].rate, 2))× its encode speed.\n"
    }
    print(text)
    writeResult("encode.md", text)
}
