import Foundation
import Logging
import Telemetry
import OutpostModel
import Testing
import WAL

@Suite struct WriteAheadLogTests {
    @Test func appendedSeriesAndSamplesReadBackInOrder() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let wal = try openWAL(dir)
        let a = wal.seriesRef(for: Labels([("__name__", "a")]))
        let b = wal.seriesRef(for: Labels([("__name__", "b"), ("x", "1")]))
        #expect(wal.seriesRef(for: Labels([("__name__", "a")])) == a)
        let samples = [
            Sample(ref: a, timestamp: 1_000, value: 1.5), Sample(ref: b, timestamp: 1_000, value: -2),
            Sample(ref: a, timestamp: 2_000, value: StaleNaN.value), Sample(ref: b, timestamp: 999, value: .infinity),
        ]
        try wal.append(samples)
        let got = try readAll(wal, from: WALPosition(segment: wal.head.segment, offset: 0))
        #expect(got.samples == samples)
        #expect(got.series[a] == Labels([("__name__", "a")]))
        #expect(got.series[b] == Labels([("__name__", "b"), ("x", "1")]))
        #expect(StaleNaN.isStale(got.samples[2].value))
    }

    @Test func replayRestoresSeriesRefsAcrossRestart() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let labels = Labels([("__name__", "m"), ("job", "j")])
        let ref: SeriesRef
        do {
            let wal = try openWAL(dir)
            ref = wal.seriesRef(for: labels)
            _ = wal.seriesRef(for: Labels([("__name__", "other")]))
            try wal.append([Sample(ref: ref, timestamp: 5, value: 5)])
            wal.close()
        }
        let reopened = try openWAL(dir)
        // Only series that were written (sampled) survive a restart; "other" never was.
        #expect(reopened.seriesCount == 1)
        #expect(reopened.seriesRef(for: labels) == ref)
        let fresh = reopened.seriesRef(for: Labels([("__name__", "new")]))
        #expect(fresh.rawValue > ref.rawValue)
        // The new head segment declares exactly the series sampled in it, so it is readable alone.
        try reopened.append([Sample(ref: fresh, timestamp: 6, value: 6), Sample(ref: ref, timestamp: 6, value: 7)])
        try reopened.append([Sample(ref: ref, timestamp: 7, value: 8)])
        let got = try readAll(reopened, from: WALPosition(segment: reopened.head.segment, offset: 0))
        #expect(got.series.count == 2)
        #expect(got.series[ref] == labels)
        #expect(got.samples.map(\.timestamp) == [6, 6, 7])
    }

    @Test func everySegmentDeclaresTheSeriesItUses() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let wal = try openWAL(dir, segmentSize: 256)
        _ = wal.registerReader("holds-every-segment")
        let a = wal.seriesRef(for: Labels([("__name__", "a")]))
        let b = wal.seriesRef(for: Labels([("__name__", "b")]))
        for i in 0..<200 {
            // b stops being scraped after a while: later segments do not mention it.
            let batch = i < 10 ? [Sample(ref: a, timestamp: Int64(i), value: 1), Sample(ref: b, timestamp: Int64(i), value: 2)]
                : [Sample(ref: a, timestamp: Int64(i), value: 1)]
            try wal.append(batch)
        }
        let first = wal.firstSegment
        #expect(wal.head.segment > first + 3)
        for seg in first...wal.head.segment {
            var reader = WALReader(directory: wal.segmentDirectory, position: WALPosition(segment: seg, offset: 0))
            var declared: Set<SeriesRef> = []
            var used: Set<SeriesRef> = []
            while try reader.next(head: wal.head, { record in
                guard record.start.segment == seg else { return }
                if record.type == .series { _ = WALCodec.decodeSeries(record.payload) { ref, _ in declared.insert(ref) } }
                if record.type == .samples {
                    var s: [Sample] = []
                    _ = WALCodec.decodeSamples(record.payload, into: &s)
                    for x in s { used.insert(x.ref) }
                }
            }) {
                if reader.position.segment > seg { break }
            }
            reader.close()
            #expect(used.isSubset(of: declared), "segment \(seg)")
            if seg > first + 2 { #expect(!declared.contains(b), "segment \(seg) still declares a series gone for good") }
        }
    }

    @Test func tornTailIsCutOnOpenAndEarlierRecordsSurvive() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let segmentPath: String
        let ref: SeriesRef
        do {
            let wal = try openWAL(dir)
            _ = wal.registerReader("endpoint")  // holds the segment across the restart
            ref = wal.seriesRef(for: Labels([("__name__", "m")]))
            try wal.append([Sample(ref: ref, timestamp: 1, value: 1)])
            try wal.append([Sample(ref: ref, timestamp: 2, value: 2)])
            segmentPath = wal.segmentDirectory + "/" + WALFormat.segmentName(wal.head.segment)
            wal.close()
        }
        // Simulate a crash in the middle of writing a record: half a header and garbage.
        let handle = try #require(FileHandle(forWritingAtPath: segmentPath))
        handle.seekToEndOfFile()
        handle.write(Data([2, 200, 0, 0, 0, 1, 2]))
        handle.closeFile()
        let sizeBefore = try #require(FileManager.default.attributesOfItem(atPath: segmentPath)[.size] as? Int)

        let wal = try openWAL(dir)
        let sizeAfter = try #require(FileManager.default.attributesOfItem(atPath: segmentPath)[.size] as? Int)
        #expect(sizeAfter == sizeBefore - 7)
        let got = try readAll(wal, from: WALPosition(segment: wal.head.segment - 1, offset: 0))
        #expect(got.samples.map(\.timestamp) == [1, 2])
        #expect(wal.seriesRef(for: Labels([("__name__", "m")])) == ref)
    }

    @Test func checksumFailureMidSegmentCutsThereCountsAndStarts() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let path: String
        do {
            let wal = try openWAL(dir)
            _ = wal.registerReader("endpoint")
            let ref = wal.seriesRef(for: Labels([("__name__", "m")]))
            for t in 1...5 { try wal.append([Sample(ref: ref, timestamp: Int64(t), value: Double(t))]) }
            path = wal.segmentDirectory + "/" + WALFormat.segmentName(wal.head.segment)
            wal.close()
        }
        // Damage the third samples record: flip a byte in its value.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let sizeBefore = bytes.count
        // Header (8), the series record (9 + 13), then five samples records of equal size.
        let recordSize = (sizeBefore - 8 - 22) / 5
        bytes[sizeBefore - 2 * recordSize - 1] ^= 0x55
        try bytes.write(to: URL(fileURLWithPath: path))
        let registry = MetricsRegistry()
        var options = WriteAheadLog.Options(directory: dir.path)
        options.segmentSize = 128 << 20
        let wal = try WriteAheadLog(options: options, registry: registry, logger: Logger(label: "test"))
        let metrics = registry.emitToString()
        #expect(metrics.contains("outpost_wal_corruptions_total 1"))
        let got = try readAll(wal, from: WALPosition(segment: wal.firstSegment, offset: 0))
        #expect(got.samples.map(\.timestamp) == [1, 2])
        let sizeAfter = try #require(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(sizeAfter == sizeBefore - 3 * recordSize)
    }

    @Test func corruptedRecordIsDetectedByChecksum() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let wal = try openWAL(dir)
        let ref = wal.seriesRef(for: Labels([("__name__", "m")]))
        try wal.append([Sample(ref: ref, timestamp: 1, value: 1)])
        let path = wal.segmentDirectory + "/" + WALFormat.segmentName(wal.head.segment)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 1] ^= 0xff  // flip a bit in the last sample's value
        try bytes.write(to: URL(fileURLWithPath: path))
        var problems: [String] = []
        var reader = WALReader(directory: wal.segmentDirectory, position: WALPosition(segment: wal.head.segment, offset: 0))
        var samples: [Sample] = []
        while try reader.next(head: wal.head, corrupt: { problems.append($0) }, { record in
            if record.type == .samples { _ = WALCodec.decodeSamples(record.payload, into: &samples) }
        }) {}
        #expect(samples.isEmpty)
        #expect(problems.count == 1)
        #expect(problems.first?.contains("checksum mismatch") == true)
    }

    @Test func readerFollowsAcrossSegmentsAndTruncationFollowsCursors() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let wal = try openWAL(dir, segmentSize: 4096)
        let start = wal.registerReader("endpoint-a")
        let ref = wal.seriesRef(for: Labels([("__name__", "m")]))
        var expected: [Sample] = []
        for i in 0..<600 {
            let batch = (0..<10).map { Sample(ref: ref, timestamp: Int64(i * 10 + $0), value: Double(i) + 0.5) }
            expected += batch
            try wal.append(batch)
        }
        #expect(wal.head.segment > start.position.segment + 3)
        #expect(wal.firstSegment == start.position.segment)
        let got = try readAll(wal, from: start.position)
        #expect(got.samples == expected)
        // The reader has not acknowledged anything, so every segment is still there.
        #expect(wal.firstSegment == start.position.segment)
        // Acknowledge up to the head's segment: older segments go at the next cut.
        try wal.commit(reader: "endpoint-a", cursor: WALCursor(position: WALPosition(segment: wal.head.segment, offset: 0), skip: 0))
        let acked = wal.head.segment
        for i in 0..<40 { try wal.append([Sample(ref: ref, timestamp: Int64(10_000 + i), value: 0)]) }
        for _ in 0..<40 { try wal.append((0..<20).map { Sample(ref: ref, timestamp: Int64(20_000 + $0), value: 0) }) }
        #expect(wal.firstSegment == acked)
        let files = try FileManager.default.contentsOfDirectory(atPath: wal.segmentDirectory).compactMap(Int.init)
        #expect(files.min() == acked)
    }

    @Test func cursorsPersistAndRemovedReadersAreReleased() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let cursor = WALCursor(position: WALPosition(segment: 1, offset: 8), skip: 3)
        do {
            let wal = try openWAL(dir)
            _ = wal.registerReader("keep/me")
            _ = wal.registerReader("drop")
            try wal.commit(reader: "keep/me", cursor: cursor)
            try wal.commit(reader: "drop", cursor: cursor)
            wal.close()
        }
        let wal = try openWAL(dir)
        wal.releaseReaders(except: ["keep/me"])
        #expect(wal.registerReader("keep/me") == cursor)
        // A reader never seen (or released) starts at the head.
        let fresh = wal.registerReader("drop")
        #expect(fresh.position.segment == wal.head.segment)
    }

    @Test func crc32cMatchesKnownVectors() {
        // RFC 3720 test vector: 32 bytes of zeros, and the classic "123456789".
        #expect([UInt8](repeating: 0, count: 32).withUnsafeBytes { CRC32C.checksum($0) } == 0x8A91_36AA)
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
    }
}

@Suite struct SampleCodecTests {
    @Test(arguments: [
        0.0, -0.0, 1.0, -1.0, 42.0, 1e15, -9_007_199_254_740_991, 9_007_199_254_740_992, 0.5, -3.25, 1e300,
        .infinity, -.infinity, .nan, StaleNaN.value, Double.leastNonzeroMagnitude, 123456.789, 12345.67, -0.001,
        1.7355e-05, 0.1, 0.3, 1.0 / 3.0, 4773.000000001, 2.5e-9,
    ])
    func valuesRoundTripBitForBit(value: Double) {
        let samples = [
            Sample(ref: SeriesRef(7), timestamp: 1_700_000_000_000, value: value),
            Sample(ref: SeriesRef(3), timestamp: -5, value: value),
            Sample(ref: SeriesRef(1 << 40), timestamp: Int64.max, value: value),
        ]
        var out: [UInt8] = []
        samples.withUnsafeBufferPointer { WALCodec.appendSamples(&out, $0) }
        var back: [Sample] = []
        #expect(out.withUnsafeBytes { WALCodec.decodeSamples($0, into: &back) })
        #expect(back == samples)
    }

    @Test func decimalsTakeFewBytes() {
        let samples = (0..<100).map { Sample(ref: SeriesRef(UInt64($0 + 1)), timestamp: 1_700_000_000_000, value: Double($0) + 0.25) }
        var out: [UInt8] = []
        samples.withUnsafeBufferPointer { WALCodec.appendSamples(&out, $0) }
        var back: [Sample] = []
        #expect(out.withUnsafeBytes { WALCodec.decodeSamples($0, into: &back) })
        #expect(back == samples)
        #expect(out.count < 100 * 5 + 12)
    }

    @Test func integralValuesTakeFewBytes() {
        let samples = (0..<100).map { Sample(ref: SeriesRef(UInt64($0 + 1)), timestamp: 1_700_000_000_000, value: Double($0 % 3)) }
        var out: [UInt8] = []
        samples.withUnsafeBufferPointer { WALCodec.appendSamples(&out, $0) }
        // First sample carries the absolute timestamp; the rest share it: 2 bytes each.
        #expect(out.count < 100 * 2 + 12)
    }

    @Test func truncatedPayloadsAreRejected() {
        var out: [UInt8] = []
        [Sample(ref: SeriesRef(1), timestamp: 1, value: 0.5)].withUnsafeBufferPointer { WALCodec.appendSamples(&out, $0) }
        for cut in 1..<out.count {
            var back: [Sample] = []
            #expect(!out.prefix(cut).withUnsafeBytes { WALCodec.decodeSamples($0, into: &back) })
        }
    }
}
