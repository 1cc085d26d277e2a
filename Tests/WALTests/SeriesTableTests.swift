import OutpostModel
import Testing

@testable import WAL

@Suite struct SeriesTableTests {
    private func labels(_ table: SeriesTable, _ ref: SeriesRef) -> Labels? {
        var out: Labels? = nil
        table.withLabels(ref) { out = Labels(canonicalBytes: Array($0)) }
        return out
    }

    /// Names and values shared between series are stored once; every series reads back as the
    /// bytes it was added with, and is found again by them.
    @Test func seriesShareTheirNamesAndValues() {
        var table = SeriesTable()
        var added: [(Labels, SeriesRef)] = []
        for cpu in 0..<40 {
            for mode in ["idle", "user", "system", "iowait"] {
                let l = Labels([
                    ("__name__", "node_cpu_seconds_total"), ("cpu", "\(cpu)"), ("mode", mode), ("job", "node"),
                    ("instance", "host-1:9100"),
                ])
                let ref = add(&table, l)
                added.append((l, ref))
            }
        }
        #expect(table.count == 160)
        // __name__, cpu, mode, job, instance, node_cpu_seconds_total, node, host-1:9100, 4 modes, 40 cpus
        #expect(table.symbolCount == 52)
        for (l, ref) in added {
            #expect(labels(table, ref) == l)
            #expect(l.bytes.withUnsafeBytes { table.ref(of: $0) } == ref)
        }
        let other = Labels([("__name__", "node_cpu_seconds_total"), ("cpu", "0"), ("mode", "nice"), ("job", "node")])
        #expect(other.bytes.withUnsafeBytes { table.ref(of: $0) } == nil)
        // A prefix of a known series' bytes is another series.
        let prefix = Array(added[0].0.bytes.dropLast(3))
        #expect(prefix.withUnsafeBytes { table.ref(of: $0) } == nil)
    }

    /// Replay records series under the refs the segments name, in any order and with gaps; a ref
    /// recorded twice keeps its first labels.
    @Test func replayedRefsKeepTheirNumbers() {
        var table = SeriesTable()
        let a = Labels([("__name__", "a"), ("x", "1")])
        let b = Labels([("__name__", "b"), ("x", "1")])
        let stored = [
            b.bytes.withUnsafeBytes { table.insert($0, ref: SeriesRef(500)) },
            a.bytes.withUnsafeBytes { table.insert($0, ref: SeriesRef(3)) },
            b.bytes.withUnsafeBytes { table.insert($0, ref: SeriesRef(3)) },  // already there: kept as it was
            a.bytes.withUnsafeBytes { table.insert($0, ref: SeriesRef(UInt64(UInt32.max))) },
            a.bytes.withUnsafeBytes { table.insert($0, ref: SeriesRef(0)) },
            [UInt8]().withUnsafeBytes { table.insert($0, ref: SeriesRef(7)) },
        ]
        #expect(stored == [true, true, true, false, false, false])
        #expect(labels(table, SeriesRef(3)) == a)
        #expect(labels(table, SeriesRef(500)) == b)
        #expect(labels(table, SeriesRef(4)) == nil)
        #expect(labels(table, SeriesRef(501)) == nil)
        #expect(table.endRef == 501)
        let next = add(&table, Labels([("__name__", "c")]))
        #expect(next == SeriesRef(501))
    }

    /// Long values (two-byte lengths) and label sets too long for the stack read back whole, and
    /// the index keeps finding every series as it grows.
    @Test func longLabelSetsAndGrowth() {
        var table = SeriesTable()
        let long = String(repeating: "v", count: 5000)
        let big = Labels([("__name__", "big"), ("a", long), ("b", String(repeating: "w", count: 200))])
        let bigRef = add(&table, big)
        var refs: [SeriesRef] = []
        for i in 0..<3000 {
            refs.append(add(&table, Labels([("__name__", "m"), ("i", "\(i)")])))
        }
        #expect(labels(table, bigRef) == big)
        #expect(big.bytes.withUnsafeBytes { table.ref(of: $0) } == bigRef)
        for (i, ref) in refs.enumerated() {
            #expect(Labels([("__name__", "m"), ("i", "\(i)")]).bytes.withUnsafeBytes { table.ref(of: $0) } == ref)
        }
        #expect(labels(table, refs[2999]) == Labels([("__name__", "m"), ("i", "2999")]))
    }

    /// Adds `labels`, expecting room for them (0 when there was none).
    private func add(_ table: inout SeriesTable, _ labels: Labels) -> SeriesRef {
        let ref = labels.bytes.withUnsafeBytes { table.add($0) }
        #expect(ref != nil)
        return ref ?? SeriesRef(0)
    }
}
