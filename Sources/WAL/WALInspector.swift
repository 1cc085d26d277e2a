import OutpostModel
import Telemetry

/// `outpost wal inspect`: a read-only report of a data directory — segments, records, series,
/// sample time range, and where each endpoint's cursor stands. Never modifies anything.
public enum WALInspector {
    struct SegmentStats {
        var number: Int
        var bytes: Int64
        var records = 0
        var series: Set<SeriesRef> = []
        var samples = 0
        var oldest = Int64.max
        var newest = Int64.min
        var problem = ""
    }

    /// The report as text, or an error message if the directory holds no WAL.
    public static func report(path: String) -> String {
        let dir = path + "/wal"
        let segments = WALReplay.segmentNumbers(in: dir)
        guard FileIO.size(dir) != nil else { return "no WAL under \(path) (expected \(dir))\n" }
        var stats: [SegmentStats] = []
        var allSeries: Set<SeriesRef> = []
        var decoded: [Sample] = []
        for seg in segments {
            let file = dir + "/" + WALFormat.segmentName(seg)
            var s = SegmentStats(number: seg, bytes: FileIO.size(file) ?? 0)
            if let bytes = WALScan.load(file) {
                let outcome = bytes.withUnsafeBytes { raw in
                    WALScan.records(raw) { type, payload in
                        if type == WALRecordType.series.rawValue {
                            return WALCodec.decodeSeries(payload) { ref, _ in s.series.insert(ref) }
                        }
                        if type == WALRecordType.samples.rawValue {
                            decoded.removeAll(keepingCapacity: true)
                            guard WALCodec.decodeSamples(payload, into: &decoded) else { return false }
                            s.samples += decoded.count
                            for x in decoded {
                                s.oldest = min(s.oldest, x.timestamp)
                                s.newest = max(s.newest, x.timestamp)
                            }
                        }
                        return true
                    }
                }
                s.records = outcome.records
                if outcome.problem != .none && outcome.problem != .empty {
                    s.problem = "\(outcome.problem.rawValue) at offset \(outcome.validEnd)"
                }
            } else {
                s.problem = "unreadable"
            }
            allSeries.formUnion(s.series)
            stats.append(s)
        }
        var out = "WAL \(dir)\n"
        out += pad("segment", 10) + pad("bytes", 12) + pad("records", 9) + pad("series", 8) + pad("samples", 10)
            + pad("oldest sample", 26) + pad("newest sample", 26) + "problem\n"
        for s in stats {
            out += pad(WALFormat.segmentName(s.number), 10) + pad(String(s.bytes), 12) + pad(String(s.records), 9)
                + pad(String(s.series.count), 8) + pad(String(s.samples), 10) + pad(time(s.oldest), 26)
                + pad(time(s.newest), 26) + s.problem + "\n"
        }
        let oldest = stats.map(\.oldest).min() ?? .max
        let newest = stats.map(\.newest).max() ?? .min
        out += "total: \(stats.count) segments, \(stats.reduce(0) { $0 + $1.bytes }) bytes, "
        out += "\(allSeries.count) series, \(stats.reduce(0) { $0 + $1.samples }) samples, "
        out += "oldest \(time(oldest)), newest \(time(newest))\n"

        let cursorDir = path + "/cursors"
        let names = CursorStore.names(directory: cursorDir).sorted()
        out += "\ncursors (\(names.count)):\n"
        for name in names {
            guard let cursor = CursorStore.load(directory: cursorDir, name: name) else {
                out += "  \(name): unreadable cursor file\n"
                continue
            }
            var behind = 0
            var firstUnsent = Int64.max
            for s in stats where s.number >= cursor.position.segment {
                let file = dir + "/" + WALFormat.segmentName(s.number)
                behind += WALScan.countSamples(path: file, from: s.number == cursor.position.segment ? cursor : nil)
                if firstUnsent == .max && behind > 0 {
                    firstUnsent = WALScan.oldestTimestamp(path: file, from: s.number == cursor.position.segment ? cursor : nil)
                }
            }
            let lag = behind == 0 || firstUnsent == .max ? 0 : Double(newest - firstUnsent) / 1000
            out += "  \(name): at \(cursor), \(behind) samples behind, lag \(lag)s\n"
        }
        return out
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }

    private static func time(_ ms: Int64) -> String {
        ms == .max || ms == .min ? "-" : RFC3339.format(milliseconds: ms)
    }
}
