import Exposition
import Foundation
import OutpostConfig
import OutpostModel
import RemoteWrite

/// Remote-write encode + compress on one core, 1.0 against 2.0: samples per second and bytes on
/// the wire per sample for batches of 2,000 samples (Prometheus' max_samples_per_send), on two
/// series sets: a generated node_exporter-like one (10 targets × 2,000 series, ~300 families with
/// metadata) and ten scrapes of the real node_exporter on this machine, as ten nodes of a cluster.
func encodeBenchmark() {
    var text = "## Remote-write encode + compress (one core)\n\n"
    text += "Batches of 2,000 samples; every series carries the target labels a ServiceMonitor-scraped "
    text += "node_exporter has on Kubernetes, plus `cluster` as an external label.\n\n"
    text += "| series set | message | samples/s | wire bytes/sample (snappy) | bytes/sample before snappy |\n|---|---|---|---|---|\n"
    var summary = ""
    for set in [generatedSeriesSet(), recordedNodeExporterSet()].compactMap({ $0 }) {
        var rows = [RemoteWriteConfig.ProtobufMessage.v1, .v2].map { measureEncode(set, $0) }
        rows.append(measureEncode(set, .v2, metadata: false))
        for r in rows {
            text += "| \(set.name) | \(r.name) | \(fmt(r.rate)) | \(fmt(r.wire, 2)) | \(fmt(r.raw, 2)) |\n"
        }
        summary += "\(set.name): 2.0 sends \(fmt(rows[0].wire / rows[1].wire, 2))× fewer bytes on the wire per sample "
        summary += "than 1.0, at \(fmt(rows[1].rate / rows[0].rate, 2))× its encode speed; its per-series type, help and unit "
        summary += "(which 1.0 does not carry) are \(fmt(100 * (rows[1].wire - rows[2].wire) / rows[1].wire))% of its bytes, and "
        summary += "without them it sends \(fmt(rows[0].wire / rows[2].wire, 2))× fewer.\n"
    }
    text += "\n" + summary
    print(text)
    writeResult("encode.md", text)
}

/// Series, their families' metadata and the batches to encode, in the order an agent reads them.
struct EncodeSeriesSet {
    var name: String
    var series: [(SeriesRef, Labels)] = []
    var families: [MetricMetadata] = []
    var batches: [[Sample]] = []

    init(name: String) { self.name = name }

    /// Cuts each round's samples into batches of 2,000.
    mutating func addRound(_ samples: [Sample]) {
        for start in stride(from: 0, to: samples.count, by: 2_000) {
            batches.append(Array(samples[start..<min(samples.count, start + 2_000)]))
        }
    }
}

/// The labels a ServiceMonitor-scraped node_exporter carries on a Kubernetes cluster, for node `t`.
func kubernetesTargetLabels(_ t: Int) -> [(String, String)] {
    [
        ("container", "node-exporter"), ("endpoint", "https"), ("instance", "10.0.\(t).\(10 + t):9100"),
        ("job", "node-exporter"), ("namespace", "openshift-monitoring"),
        ("pod", "node-exporter-\(t)x7k2q"), ("service", "node-exporter"),
    ]
}

func generatedSeriesSet() -> EncodeSeriesSet {
    var set = EncodeSeriesSet(name: "generated")
    let targets = 10
    let perTarget = 2_000
    let modes = ["user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"]
    for f in 0..<300 {
        let type: MetricType = f % 3 == 0 ? .gauge : (f % 3 == 1 ? .counter : .histogram)
        set.families.append(
            MetricMetadata(
                family: "node_subsystem_\(f)_metric\(type == .counter ? "_total" : "")", type: type,
                help: "Node subsystem \(f) statistic, as reported by the kernel.", unit: type == .histogram ? "seconds" : ""))
    }
    var ref: UInt64 = 0
    for t in 0..<targets {
        for i in 0..<perTarget {
            ref += 1
            // Family by family, as an exposition lists them (so series of one family are adjacent).
            let family = set.families[i * set.families.count / perTarget]
            var pairs = [("__name__", family.type == .histogram ? family.family + "_bucket" : family.family)] + kubernetesTargetLabels(t)
            switch i % 4 {
            case 0: pairs += [("cpu", String(i % 64)), ("mode", modes[i % modes.count])]
            case 1: pairs += [("device", "nvme\(i % 4)n1p\(i % 3)")]
            case 2: pairs += [("le", ["0.005", "0.01", "0.1", "1.0", "+Inf"][i % 5])]
            default: break
            }
            set.series.append((SeriesRef(ref), Labels(pairs)))
        }
    }
    var ts: Int64 = 1_790_000_000_000
    for round in 0..<10 {
        ts += 15_000
        // Values like a node_exporter's: growing integer counters, decimal gauges, 0/1 flags.
        let samples = set.series.enumerated().map { k, s -> Sample in
            let v: Double
            switch k % 10 {
            case 0..<6: v = Double(k * 131 + round * ((k * 7) % 50))
            case 6..<9: v = Double((k * 31 + round) % 100_000) / 100
            default: v = Double((k + round) % 2)
            }
            return Sample(ref: s.0, timestamp: ts, value: v)
        }
        set.addRound(samples)
    }
    return set
}

/// Ten scrapes, a second apart, of the node_exporter installed on this machine (started here on a
/// free port), each body standing for the same scrape of ten nodes. Nil when it is not installed.
func recordedNodeExporterSet() -> EncodeSeriesSet? {
    let binary = "/usr/bin/prometheus-node-exporter"
    guard FileManager.default.isExecutableFile(atPath: binary) else { return nil }
    let port = 19_000 + Int(getpid() % 1_000)
    let log = NSTemporaryDirectory() + "outpost-bench-node-exporter.log"
    guard let child = Child(binary, ["--web.listen-address=127.0.0.1:\(port)"], log: log) else { return nil }
    defer { child.stop() }
    var bodies: [[UInt8]] = []
    let deadline = ContinuousClock.now + .seconds(30)
    while bodies.count < 10, ContinuousClock.now < deadline {
        if let body = httpGet(port: port, path: "/metrics") { bodies.append(Array(body.utf8)) }
        Thread.sleep(forTimeInterval: bodies.isEmpty ? 0.1 : 1)
    }
    guard bodies.count == 10 else { return nil }
    var set = EncodeSeriesSet(name: "node_exporter \(debianVersion("prometheus-node-exporter")), recorded")
    var refs: [[UInt8]: SeriesRef] = [:]  // exposition series text → ref of node 0; node t adds t × count
    var seriesOfNode0: [(SeriesRef, [(String, String)])] = []
    var familySeen = Set<String>()
    var rounds: [[(SeriesRef, Double)]] = []
    for body in bodies {
        var round: [(SeriesRef, Double)] = []
        body.withUnsafeBytes { raw in
            var parser = TextParser(raw)
            var line = ExpositionSample()
            while (try? parser.next(&line)) == true {
                let key = Array(raw[line.series])
                var ref = refs[key]
                if ref == nil {
                    var pairs = [("__name__", String(decoding: LabelPairs.metricName(in: raw, line), as: UTF8.self))]
                    LabelPairs.forEach(in: raw, range: line.labels) { n, v in
                        pairs.append((String(decoding: n, as: UTF8.self), String(decoding: v, as: UTF8.self)))
                    }
                    let r = SeriesRef(UInt64(refs.count + 1))
                    refs[key] = r
                    seriesOfNode0.append((r, pairs))
                    ref = r
                }
                if let ref { round.append((ref, line.value)) }
            }
            for m in parser.metadata where m.kind == .type {
                let family = m.familyName(in: raw)
                guard familySeen.insert(family).inserted else { continue }
                let help = parser.metadata.first { $0.kind == .help && $0.familyName(in: raw) == family }.map { $0.text(in: raw) } ?? ""
                set.families.append(MetricMetadata(family: family, type: m.type, help: help, unit: ""))
            }
        }
        rounds.append(round)
    }
    let perNode = UInt64(refs.count)
    for t in 0..<10 {
        for (r, pairs) in seriesOfNode0 {
            set.series.append((SeriesRef(r.rawValue + UInt64(t) * perNode), Labels(pairs + kubernetesTargetLabels(t))))
        }
    }
    var ts: Int64 = 1_790_000_000_000
    for round in rounds {
        ts += 15_000
        var samples: [Sample] = []
        for t in 0..<10 {
            // Each node its own values (offset by the node number), so no two nodes repeat a sample.
            for (r, v) in round {
                samples.append(Sample(ref: SeriesRef(r.rawValue + UInt64(t) * perNode), timestamp: ts, value: v + Double(t * 7)))
            }
        }
        set.addRound(samples)
    }
    return set
}

func measureEncode(
    _ set: EncodeSeriesSet, _ format: RemoteWriteConfig.ProtobufMessage, metadata: Bool = true
) -> (name: String, rate: Double, wire: Double, raw: Double) {
    var builder = WriteRequestBuilder(format: format, externalLabels: Labels([("cluster", "eu-west-prod-17")]))
    if metadata { for m in set.families { builder.addMetadata(m) } }
    for (r, l) in set.series { builder.addSeries(r, l) }
    var out: [UInt8] = []
    var wire = 0
    var raw = 0
    var samples = 0
    for b in set.batches.prefix(20) { builder.build(b, into: &out) }  // warm-up
    let clock = ContinuousClock()
    let start = clock.now
    var passes = 0
    while clock.now - start < .seconds(3) || passes < 2 {
        for b in set.batches {
            samples += builder.build(b, into: &out)
            wire += out.count
            raw += builder.uncompressedCount
        }
        passes += 1
    }
    let seconds = Double((clock.now - start).components.attoseconds) / 1e18 + Double((clock.now - start).components.seconds)
    return ("`\(format.rawValue)`" + (metadata ? "" : " without metadata"), Double(samples) / seconds, Double(wire) / Double(samples), Double(raw) / Double(samples))
}
