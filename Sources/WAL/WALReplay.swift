import Logging
import OutpostModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opening the WAL: find the segments, heal the tail a crash may have torn, rebuild the series table.
enum WALReplay {
    struct Result {
        var segments: [Int] = []
        var nextSegment = 1
        var series: [Labels: SeriesRef] = [:]
        var maxRef: UInt64 = 0
        var records = 0
    }

    static func segmentNumbers(in directory: String) -> [Int] {
        FileIO.list(directory).compactMap { name in
            name.count == 8 && name.allSatisfy(\.isNumber) ? Int(name) : nil
        }.sorted()
    }

    static func run(directory: String, logger: Logger) throws(WALError) -> Result {
        var result = Result()
        var segments = segmentNumbers(in: directory)
        // Files that are not segments (say, a leftover temporary file) are left alone but reported.
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
        for (i, seg) in segments.enumerated() {
            let path = directory + "/" + WALFormat.segmentName(seg)
            let isLast = i == segments.count - 1
            let fd = try FileIO.open(path, flags: isLast ? O_RDWR : O_RDONLY)
            defer { close(fd) }
            let size = FileIO.size(path) ?? 0
            try FileIO.read(fd, offset: 0, count: Int(size), into: &buffer, path: path)
            if buffer.count >= 8, buffer.prefix(5).elementsEqual(WALFormat.segmentHeader.prefix(5)),
                buffer[5] != WALFormat.segmentHeader[5]
            {
                throw WALError(
                    "\(path) has WAL format version \(buffer[5]); this Outpost reads version \(WALFormat.segmentHeader[5])")
            }
            var validEnd: Int64 = 0
            var problem = ""
            buffer.withUnsafeBytes { raw in
                guard raw.count >= WALFormat.segmentHeader.count,
                    raw.prefix(WALFormat.segmentHeader.count).elementsEqual(WALFormat.segmentHeader)
                else {
                    problem = raw.isEmpty ? "empty segment" : "bad segment header"
                    return
                }
                var off = WALFormat.segmentHeader.count
                validEnd = Int64(off)
                while off < raw.count {
                    guard raw.count - off >= WALFormat.recordHeaderSize else {
                        problem = "torn record header"
                        return
                    }
                    let type = raw[off]
                    let len = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: off + 1, as: UInt32.self)))
                    let crc = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: off + 5, as: UInt32.self))
                    let start = off + WALFormat.recordHeaderSize
                    guard len <= WALFormat.maxRecordSize, raw.count - start >= len else {
                        problem = "torn record"
                        return
                    }
                    let payload = UnsafeRawBufferPointer(rebasing: raw[start..<(start + len)])
                    guard WALFormat.verify(type: type, payload: payload, crc: crc) else {
                        problem = "checksum mismatch"
                        return
                    }
                    if type == WALRecordType.series.rawValue {
                        let ok = WALCodec.decodeSeries(payload) { ref, labels in
                            result.series[labels] = ref
                            result.maxRef = max(result.maxRef, ref.rawValue)
                        }
                        if !ok {
                            problem = "malformed series record"
                            return
                        }
                    }
                    result.records += 1
                    off = start + len
                    validEnd = Int64(off)
                }
            }
            if !problem.isEmpty {
                if isLast {
                    // The tail of the newest segment is where a crash tears writes: cut it off.
                    logger.warning(
                        "WAL repaired: cut torn tail of newest segment",
                        metadata: ["segment": "\(seg)", "reason": "\(problem)", "kept_bytes": "\(validEnd)",
                                   "removed_bytes": "\(size - validEnd)"])
                    if validEnd == 0 {
                        unlink(path)
                        return finish(result, segments: Array(segments.dropLast()), next: seg)
                    }
                    guard ftruncate(fd, off_t(validEnd)) == 0 else {
                        throw WALError("truncate \(path)", errno: errno)
                    }
                    _ = fsync(fd)
                } else {
                    logger.error(
                        "WAL segment corrupt; records after the damage are unreadable",
                        metadata: ["segment": "\(seg)", "reason": "\(problem)", "offset": "\(validEnd)"])
                }
            }
            if segments.count > 1 && i % 16 == 15 {
                logger.info("WAL replay progress", metadata: ["segment": "\(i + 1)/\(segments.count)"])
            }
        }
        return finish(result, segments: segments, next: result.nextSegment)
    }

    private static func finish(_ r: Result, segments: [Int], next: Int) -> Result {
        var r = r
        r.segments = segments
        r.nextSegment = next
        return r
    }
}
