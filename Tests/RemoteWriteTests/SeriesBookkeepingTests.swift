import Foundation
import Logging
import OutpostModel
import Telemetry
import Testing
import WAL

@testable import RemoteWrite

/// What an endpoint keeps per series and per batch besides the labels.
@Suite struct SeriesBookkeepingTests {
    /// Series whose labels are read from the WAL's table cost one bit each: refs on both sides of a
    /// 64-bit word's edge are known, their neighbours are not, a repeat counts once.
    @Test func seriesDeclaredInTheWALAreOneBitEach() throws {
        let dir = NSTemporaryDirectory() + "outpost-rw-bits-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WriteAheadLog(
            options: WriteAheadLog.Options(directory: dir), registry: MetricsRegistry(), logger: Logger(label: "test"))
        defer { wal.close() }
        var cache = SeriesLabelCache(externalLabels: .empty, format: .v1, shared: wal)
        let declared: [UInt64] = [1, 63, 64, 127, 128, 5000]
        for r in declared + [64, 1] { cache.addDeclared(SeriesRef(r)) }
        #expect(cache.count == 6)
        for r in declared {
            #expect(cache.isKnown(SeriesRef(r)) && cache.isInTable(SeriesRef(r)) && !cache.isDropped(SeriesRef(r)))
        }
        for r: UInt64 in [0, 2, 62, 65, 126, 129, 4999, 5001, 1 << 20, 1 << 40] {
            #expect(!cache.isKnown(SeriesRef(r)) && !cache.isInTable(SeriesRef(r)))
        }
        // Without the WAL to read from, a declaration alone makes nothing known.
        var own = SeriesLabelCache(externalLabels: .empty, format: .v1)
        own.addDeclared(SeriesRef(3))
        #expect(own.count == 0 && !own.isKnown(SeriesRef(3)))
    }

    /// A batch of distinct series keeps its order; repeats are grouped by series, each series'
    /// samples in their order; the set that finds repeats is cleared between batches.
    @Test func batchesAreGroupedBySeriesOnlyWhenOneRepeats() {
        func batch(_ refs: [UInt64]) -> [Sample] {
            refs.enumerated().map { Sample(ref: SeriesRef($0.element), timestamp: Int64($0.offset), value: 1) }
        }
        var g = SampleGrouping()
        g.arrange(batch([9, 3, 7, 1]))
        #expect(g.order == [0, 1, 2, 3])
        #expect(g.runs.map(\.from) == [0, 1, 2, 3] && g.runs.map(\.to) == [1, 2, 3, 4])

        g.arrange(batch([5, 3, 5, 9, 3]))
        #expect(g.order == [1, 4, 0, 2, 3])
        #expect(g.runs.map(\.from) == [0, 2, 4] && g.runs.map(\.to) == [2, 4, 5])

        // The same refs again, each once: nothing left over from the last batch.
        g.arrange(batch([5, 3, 9]))
        #expect(g.order == [0, 1, 2])

        // Thousands of series in scrambled order, then the same with one repeat at the very end.
        let many = (0..<5000).map { UInt64(($0 * 7919) % 5000 + 1) }
        g.arrange(batch(many))
        #expect(g.order == Array(0..<5000) && g.runs.count == 5000)
        g.arrange(batch(many + [many[2500]]))
        #expect(g.runs.count == 5000)
        let run = g.runs.first { g.order[$0.from] == 2500 }
        #expect(run.map { Array(g.order[$0.from..<$0.to]) } == [2500, 5000])

        // The largest ref has no key in the set: grouping still comes out right.
        g.arrange(batch([UInt64.max, 4, UInt64.max]))
        #expect(g.order == [1, 0, 2])
    }
}
