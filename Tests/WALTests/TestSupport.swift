import Foundation
import Logging
import OutpostModel
import Telemetry
import Testing
import WAL

/// A fresh directory under the system temporary directory, removed by `cleanup()`.
struct TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "outpost-wal-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

func openWAL(_ dir: TempDir, segmentSize: Int64 = 128 << 20) throws -> WriteAheadLog {
    var options = WriteAheadLog.Options(directory: dir.path)
    options.segmentSize = segmentSize
    return try WriteAheadLog(options: options, registry: MetricsRegistry(), logger: Logger(label: "test"))
}

/// Reads every record from `start` up to the head: series by ref and samples in order.
func readAll(_ wal: WriteAheadLog, from start: WALPosition) throws -> (series: [SeriesRef: Labels], samples: [Sample]) {
    var reader = WALReader(directory: wal.segmentDirectory, position: start)
    defer { reader.close() }
    var series: [SeriesRef: Labels] = [:]
    var samples: [Sample] = []
    while try reader.next(head: wal.head, corrupt: { Issue.record("unexpected WAL corruption: \($0)") }, { record in
        switch record.type {
        case .series: _ = WALCodec.decodeSeries(record.payload) { series[$0] = $1 }
        case .samples: _ = WALCodec.decodeSamples(record.payload, into: &samples)
        default: break
        }
    }) {}
    return (series, samples)
}

/// The entries of every `type` record from `start` up to the head (only those in `segment`, when
/// given), one array per record, decoded by `decode` (a `WALCodec` decoder).
func records<T>(
    of type: WALRecordType, in wal: WriteAheadLog, from start: WALPosition, segment: Int? = nil,
    _ decode: (UnsafeRawBufferPointer, (T) -> Void) -> Bool
) throws -> [[T]] {
    var reader = WALReader(directory: wal.segmentDirectory, position: start)
    defer { reader.close() }
    var out: [[T]] = []
    while try reader.next(head: wal.head, corrupt: { Issue.record("corrupt: \($0)") }, { record in
        guard record.type == type, segment.map({ $0 == record.start.segment }) ?? true else { return }
        var entries: [T] = []
        #expect(decode(record.payload) { entries.append($0) })
        out.append(entries)
    }) {}
    return out
}
