import Foundation
import OutpostModel
import Testing

@testable import WAL

@Suite struct StartsRecordTests {
    static func starts(in wal: WriteAheadLog, segment: Int) throws -> [[SeriesStart]] {
        try records(
            of: .starts, in: wal, from: WALPosition(segment: segment, offset: 0), segment: segment, WALCodec.decodeStarts)
    }

    @Test func changesAreWrittenOnceAndEverySegmentStartsWithAll() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let wal = try openWAL(dir, segmentSize: 4096)
        let a = wal.seriesRef(for: Labels([("__name__", "a_total")]))
        let b = wal.seriesRef(for: Labels([("__name__", "b_total")]))
        let samples = [Sample(ref: a, timestamp: 1, value: 1), Sample(ref: b, timestamp: 1, value: 1)]
        try wal.append(samples, starts: [SeriesStart(ref: a, start: 1_000), SeriesStart(ref: b, start: -7)])
        try wal.append(samples, starts: [SeriesStart(ref: a, start: 1_000)])  // unchanged: not written
        try wal.append(samples, starts: [SeriesStart(ref: a, start: 2_000)])
        let segment = wal.head.segment
        #expect(
            try Self.starts(in: wal, segment: segment) == [
                [SeriesStart(ref: a, start: 1_000), SeriesStart(ref: b, start: -7)], [SeriesStart(ref: a, start: 2_000)],
            ])
        var t: Int64 = 2
        while wal.head.segment == segment {
            try wal.append(Array(repeating: Sample(ref: a, timestamp: t, value: Double(t)), count: 200))
            t += 1
        }
        #expect(
            try Self.starts(in: wal, segment: wal.head.segment) == [
                [SeriesStart(ref: a, start: 2_000), SeriesStart(ref: b, start: -7)]
            ])
    }

    @Test func segmentsOfFormatVersionOneStillRead() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let refs: [SeriesRef]
        do {
            let wal = try openWAL(dir)
            refs = [wal.seriesRef(for: Labels([("__name__", "a")])), wal.seriesRef(for: Labels([("__name__", "b")]))]
            try wal.append([Sample(ref: refs[0], timestamp: 5, value: 1.5), Sample(ref: refs[1], timestamp: 5, value: 2)])
            wal.close()
        }
        // Rewrite the header as version 1 wrote it: the records themselves are unchanged.
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/wal").sorted()
        let path = dir.path + "/wal/" + (names.first ?? "")
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes[5] == 2)
        bytes[5] = 1
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let reopened = try openWAL(dir)
        #expect(reopened.seriesRef(for: Labels([("__name__", "b")])) == refs[1])  // replay read the series
        let all = try readAll(reopened, from: WALPosition(segment: 0, offset: 0))
        #expect(all.samples == [Sample(ref: refs[0], timestamp: 5, value: 1.5), Sample(ref: refs[1], timestamp: 5, value: 2)])

        // A version this build does not know is refused by name.
        bytes[5] = 9
        reopened.close()
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: WALError.self) { try openWAL(dir) }
        #expect(error?.description.contains("has WAL format version 9; this Outpost reads versions 1 to 2") == true)
    }
}
