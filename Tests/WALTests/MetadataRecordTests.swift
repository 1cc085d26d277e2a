import Foundation
import OutpostModel
import Testing

@testable import WAL

@Suite struct MetadataRecordTests {
    static func metadata(in wal: WriteAheadLog, from start: WALPosition) throws -> [[MetricMetadata]] {
        try records(of: .metadata, in: wal, from: start, WALCodec.decodeMetadata)
    }

    @Test func changesAreWrittenOnceAndEverySegmentStartsWithAll() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let wal = try openWAL(dir, segmentSize: 4096)
        let ref = wal.seriesRef(for: Labels([("__name__", "a")]))
        let a = MetricMetadata(family: "a", type: .gauge, help: "Alpha ☃.", unit: "")
        let b = MetricMetadata(family: "b_seconds", type: .histogram, help: "", unit: "seconds")
        try wal.append([Sample(ref: ref, timestamp: 1, value: 1)], metadata: [a, b])
        try wal.append([Sample(ref: ref, timestamp: 2, value: 1)], metadata: [a])  // unchanged: not written
        let a2 = MetricMetadata(family: "a", type: .gauge, help: "Alpha, reworded.")
        try wal.append([Sample(ref: ref, timestamp: 3, value: 1)], metadata: [a2])
        let first = try Self.metadata(in: wal, from: WALPosition(segment: 0, offset: 0))
        #expect(first == [[a, b], [a2]])
        // Fill the segment until a new one starts: it opens with every family's latest metadata.
        let startSegment = wal.head.segment
        var t: Int64 = 4
        while wal.head.segment == startSegment {
            try wal.append(Array(repeating: Sample(ref: ref, timestamp: t, value: Double(t)), count: 200))
            t += 1
        }
        let fresh = try Self.metadata(in: wal, from: WALPosition(segment: wal.head.segment, offset: 0))
        #expect(fresh.count == 1)
        #expect(Set(fresh[0].map(\.family)) == ["a", "b_seconds"])
        #expect(fresh[0].first { $0.family == "a" } == a2)
    }
}
