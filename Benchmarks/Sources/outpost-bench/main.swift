import Discovery
import OutpostConfig
import OutpostModel
import Relabel
import Scrape
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// Benchmarks run by `make bench` (release mode). Each figure is the median of several timed rounds.
// `outpost-bench [relabel|wal|parse]` runs one group; `outpost-bench e2e [small|large|wide|sweep]…`
// the end-to-end comparison; no argument runs all (with the `small` end-to-end profile).

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


func fmt(_ v: Double, _ digits: Int = 0) -> String {
    guard v.isFinite else { return "n/a" }
    var s = String(Int64((v * pow(10, Double(digits))).rounded()))
    if digits > 0 {
        while s.count <= digits { s = "0" + s }
        s.insert(".", at: s.index(s.endIndex, offsetBy: -digits))
    }
    return s
}

/// Writes a result table under bench/results/ (the package runs from Benchmarks/).
func writeResult(_ name: String, _ text: String) {
    if let fp = fopen("../bench/results/" + name, "w") {
        fputs(text, fp)
        fclose(fp)
    }
}

let groups = CommandLine.arguments.dropFirst()
if groups.isEmpty || groups.contains("relabel") { relabelBenchmark() }
if groups.isEmpty || groups.contains("wal") { walBenchmark() }
if groups.isEmpty || groups.contains("parse") { parseBenchmark() }
if groups.isEmpty || groups.contains("encode") { encodeBenchmark() }
if groups.isEmpty || groups.first == "e2e" {
    agentBenchmark(groups.first == "e2e" ? Array(groups.dropFirst()) : ["small"])
}
