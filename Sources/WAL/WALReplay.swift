import Logging
import OutpostModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opening the WAL: find the segments, heal what a crash or a bad disk left, rebuild the series table.
///
/// - A torn record at the end of the newest segment (an interrupted write: the normal result of a
///   crash) is cut off quietly.
/// - A record whose checksum fails, or a torn record anywhere else, is corruption: the segment is cut
///   at the last good record, the loss is logged with its position and size, and counted.
/// Outpost always starts on what is left; it never refuses its own data directory, except for a
/// segment written by a newer format version.
enum WALReplay {
    struct Result {
        var segments: [Int] = []
        var sizes: [Int: Int64] = [:]
        var nextSegment = 1
        var series = SeriesTable()
        var records = 0
        var corruptions = 0
    }

    static func segmentNumbers(in directory: String) -> [Int] {
        FileIO.list(directory).compactMap { name in
            name.count == 8 && name.allSatisfy(\.isNumber) ? Int(name) : nil
        }.sorted()
    }

    static func run(directory: String, logger: Logger) throws(WALError) -> Result {
        var result = Result()
        var segments = segmentNumbers(in: directory)
        for name in FileIO.list(directory) where !(name.count == 8 && name.allSatisfy(\.isNumber)) {
            logger.warning("ignoring unexpected file in WAL directory", metadata: ["file": "\(directory)/\(name)"])
        }
        // A gap means segments were lost; keep only the contiguous run that ends at the newest.
        if let last = segments.last {
            var start = segments.count - 1
            while start > 0 && segments[start - 1] == segments[start] - 1 { start -= 1 }
            for seg in segments[0..<start] {
                logger.warning("removing WAL segment before a gap", metadata: ["segment": "\(seg)"])
                unlink(directory + "/" + WALFormat.segmentName(seg))
            }
            segments = Array(segments[start...])
            result.nextSegment = last + 1
        }
        var buffer: [UInt8] = []
        var kept: [Int] = []
        for (i, seg) in segments.enumerated() {
            let path = directory + "/" + WALFormat.segmentName(seg)
            let isLast = i == segments.count - 1
            let fd = try FileIO.open(path, flags: O_RDWR)
            defer { close(fd) }
            let size = FileIO.size(path) ?? 0
            try FileIO.read(fd, offset: 0, count: Int(size), into: &buffer, path: path)
            if buffer.count >= 8, buffer.prefix(5).elementsEqual(WALFormat.segmentHeader.prefix(5)),
                !WALFormat.readableVersions.contains(buffer[5])
            {
                throw WALError(
                    "\(path) has WAL format version \(buffer[5]); this Outpost reads versions "
                        + "\(WALFormat.readableVersions.lowerBound) to \(WALFormat.readableVersions.upperBound)")
            }
            let scan = buffer.withUnsafeBytes { raw in
                WALScan.records(raw) { type, payload in
                    if type == WALRecordType.series.rawValue {
                        return WALCodec.decodeSeriesBytes(payload) { ref, labels in
                            result.series.insert(labels, ref: ref)
                        }
                    }
                    return true
                }
            }
            result.records += scan.records
            var validEnd = scan.validEnd
            switch scan.problem {
            case .none:
                break
            case .torn where isLast:
                logger.info(
                    "WAL: cut the incomplete last record of the newest segment (an interrupted write)",
                    metadata: ["segment": "\(seg)", "offset": "\(validEnd)", "bytes": "\(size - validEnd)"])
            case .empty where isLast:
                validEnd = 0
            default:
                result.corruptions += 1
                logger.error(
                    "WAL corruption: segment cut at the last good record",
                    metadata: ["segment": "\(seg)", "offset": "\(validEnd)", "bytes_lost": "\(size - validEnd)",
                               "reason": "\(scan.problem)"])
            }
            if validEnd < size {
                if validEnd == 0 && isLast {
                    unlink(path)
                    result.nextSegment = seg
                    continue
                }
                guard ftruncate(fd, off_t(validEnd)) == 0 else { throw WALError("truncate \(path)", errno: errno) }
                _ = fsync(fd)
            }
            kept.append(seg)
            result.sizes[seg] = validEnd
            if segments.count > 16 && i % 16 == 15 {
                logger.info("WAL replay progress", metadata: ["segment": "\(i + 1)/\(segments.count)"])
            }
        }
        result.segments = kept
        return result
    }
}
