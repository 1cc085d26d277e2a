import Foundation
import Logging
import OutpostModel
import Telemetry
import Testing
import WAL

@Suite struct DiskBudgetTests {
    @Test func oldestSegmentsGoAndEachLaggingReaderIsMovedAndCharged() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let registry = MetricsRegistry()
        var options = WriteAheadLog.Options(directory: dir.path)
        options.segmentSize = 1024
        options.maxDiskBytes = 4096
        let wal = try WriteAheadLog(options: options, registry: registry, logger: Logger(label: "test"))
        let lagging = wal.registerReader("lagging")
        _ = wal.registerReader("current")
        let ref = wal.seriesRef(for: Labels([("__name__", "m")]))
        var appended = 0
        for i in 0..<400 {
            try wal.append((0..<5).map { Sample(ref: ref, timestamp: Int64(i * 5 + $0), value: 1) })
            appended += 5
            // "current" keeps up: it acknowledges everything appended so far.
            try wal.commit(reader: "current", cursor: WALCursor(position: wal.head, skip: 0))
        }
        // Bytes on disk stay within the budget plus at most one open segment.
        let files = try FileManager.default.contentsOfDirectory(atPath: wal.segmentDirectory)
        let bytes = try files.reduce(0) {
            $0 + (try FileManager.default.attributesOfItem(atPath: wal.segmentDirectory + "/" + $1)[.size] as? Int ?? 0)
        }
        #expect(bytes <= 4096 + 1024 + 64)
        #expect(wal.firstSegment > lagging.position.segment)

        // The lagging reader learns where it was moved, and what is left plus what was charged is
        // exactly what was appended.
        let forced = try #require(wal.takeForcedCursor("lagging"))
        #expect(forced.position.segment == wal.firstSegment)
        #expect(wal.takeForcedCursor("lagging") == nil)
        #expect(wal.takeForcedCursor("current") == nil)
        let left = try readAll(wal, from: forced.position).samples.count
        let metrics = registry.emitToString()
        let line = try #require(metrics.split(separator: "\n").first {
            $0.hasPrefix("outpost_wal_samples_dropped_total") && $0.contains("remote_name=\"lagging\"")
        })
        #expect(line.contains("reason=\"disk_budget\""))
        let charged = try #require(Int(line.split(separator: " ").last ?? ""))
        #expect(charged + left == appended)
        #expect(!metrics.contains("remote_name=\"current\""))
        // A commit from before the forced position is ignored rather than moving the reader back.
        try wal.commit(reader: "lagging", cursor: lagging)
        let reopened = try WriteAheadLog(options: options, registry: MetricsRegistry(), logger: Logger(label: "test"))
        _ = reopened
        let stored = try #require(
            try String(contentsOfFile: dir.path + "/cursors/lagging", encoding: .utf8).split(separator: " ").dropFirst().first)
        #expect(Int(stored) == forced.position.segment)
    }

    @Test func aFullDiskLosesOnlyThatAppendAndAppendingResumes() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let registry = MetricsRegistry()
        var options = WriteAheadLog.Options(directory: dir.path)
        options.segmentSize = 16  // every append closes the segment it wrote
        let status = StatusBoard(version: "t", configFile: "", startTime: 0)
        let wal = try WriteAheadLog(options: options, registry: registry, status: status, logger: Logger(label: "test"))
        _ = wal.registerReader("r")
        let ref = wal.seriesRef(for: Labels([("__name__", "m")]))
        try wal.append([Sample(ref: ref, timestamp: 1, value: 1)])
        try wal.append([Sample(ref: ref, timestamp: 2, value: 2)])
        // The next segment lands on a full device: /dev/full answers every write with ENOSPC.
        let next = wal.segmentDirectory + "/" + WALFormat.segmentName(wal.head.segment + 1)
        try FileManager.default.createSymbolicLink(atPath: next, withDestinationPath: "/dev/full")
        do {
            try wal.append([Sample(ref: ref, timestamp: 3, value: 3)])
            Issue.record("expected ENOSPC")
        } catch {
            #expect(error.isNoSpace)
        }
        #expect(status.snapshot().wal.lastError.contains("No space left on device"))
        #expect(registry.emitToString().contains("outpost_wal_append_failed_samples_total 1"))
        // Space is back (the failed segment file is gone): appending resumes in that segment.
        try wal.append([Sample(ref: ref, timestamp: 4, value: 4)])
        #expect(status.snapshot().wal.lastError == "")
        let got = try readAll(wal, from: WALPosition(segment: wal.firstSegment, offset: 0))
        #expect(got.samples.map(\.timestamp) == [1, 2, 4])
        #expect(got.series[ref] == Labels([("__name__", "m")]))
    }
}
