import OutpostModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Walking a whole segment held in memory: used by replay, the disk budget's loss count and
/// `outpost wal inspect`.
enum WALScan {
    enum Problem: String, Sendable {
        case none
        /// The file is empty or shorter than its header.
        case empty
        case badHeader = "bad segment header"
        /// A record runs past the end of the file: an interrupted write.
        case torn = "incomplete record"
        case checksum = "checksum mismatch"
        case malformed = "malformed record"
    }

    struct Outcome {
        var records = 0
        /// The end of the last good record (or of the header).
        var validEnd: Int64 = 0
        var problem = Problem.none
    }

    /// Checks every record in `raw` (a whole segment) and passes each good one to `body`; a false
    /// return from `body` marks the record malformed and stops.
    static func records(
        _ raw: UnsafeRawBufferPointer, _ body: (UInt8, UnsafeRawBufferPointer) -> Bool
    ) -> Outcome {
        var out = Outcome()
        let header = WALFormat.segmentHeader.count
        guard raw.count >= header else {
            out.problem = .empty
            return out
        }
        guard WALFormat.hasReadableHeader(raw) else {
            out.problem = .badHeader
            return out
        }
        var off = header
        out.validEnd = Int64(off)
        while off < raw.count {
            guard raw.count - off >= WALFormat.recordHeaderSize else {
                out.problem = .torn
                return out
            }
            let type = raw[off]
            let len = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: off + 1, as: UInt32.self)))
            let crc = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: off + 5, as: UInt32.self))
            let start = off + WALFormat.recordHeaderSize
            guard len <= WALFormat.maxRecordSize else {
                out.problem = .malformed
                return out
            }
            guard raw.count - start >= len else {
                out.problem = .torn
                return out
            }
            let payload = UnsafeRawBufferPointer(rebasing: raw[start..<(start + len)])
            guard WALFormat.verify(type: type, payload: payload, crc: crc) else {
                out.problem = .checksum
                return out
            }
            guard body(type, payload) else {
                out.problem = .malformed
                return out
            }
            out.records += 1
            off = start + len
            out.validEnd = Int64(off)
        }
        return out
    }

    /// Reads a whole segment file; nil if it cannot be read.
    static func load(_ path: String) -> [UInt8]? {
        guard let size = FileIO.size(path), let fd = try? FileIO.open(path, flags: O_RDONLY) else { return nil }
        defer { close(fd) }
        var buffer: [UInt8] = []
        do {
            try FileIO.read(fd, offset: 0, count: Int(size), into: &buffer, path: path)
        } catch {
            return nil
        }
        return buffer
    }

    /// Calls `body` with every samples record of the segment at `path` from `cursor` on (the whole
    /// segment when nil) and how many of that record's samples the cursor has already passed.
    static func samplesRecords(path: String, from cursor: WALCursor?, _ body: (UnsafeRawBufferPointer, Int) -> Void) {
        guard let bytes = load(path) else { return }
        bytes.withUnsafeBytes { raw in
            var offset = Int64(WALFormat.segmentHeader.count)
            _ = records(raw) { type, payload in
                let start = offset
                offset += Int64(WALFormat.recordHeaderSize + payload.count)
                guard type == WALRecordType.samples.rawValue else { return true }
                if let cursor, start < cursor.position.offset { return true }
                body(payload, cursor.map { start == $0.position.offset ? $0.skip : 0 } ?? 0)
                return true
            }
        }
    }

    /// Samples in the segment at `path` from `cursor` on (the whole segment when nil).
    static func countSamples(path: String, from cursor: WALCursor?) -> Int {
        var count = 0
        samplesRecords(path: path, from: cursor) { payload, skip in
            var r = ByteReader(payload)
            count += max(0, Int(r.uvarint() ?? 0) - skip)
        }
        return count
    }

    /// The oldest sample timestamp in the segment at `path` from `cursor` on.
    static func oldestTimestamp(path: String, from cursor: WALCursor?) -> Int64 {
        var oldest = Int64.max
        var decoded: [Sample] = []
        samplesRecords(path: path, from: cursor) { payload, skip in
            decoded.removeAll(keepingCapacity: true)
            _ = WALCodec.decodeSamples(payload, into: &decoded)
            for x in decoded.dropFirst(skip) { oldest = min(oldest, x.timestamp) }
        }
        return oldest
    }
}
