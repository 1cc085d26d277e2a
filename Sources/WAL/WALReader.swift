import OutpostModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One record as a reader sees it: valid only inside the closure it is passed to.
public struct WALRecordView {
    public var type: WALRecordType?
    public var rawType: UInt8
    public var payload: UnsafeRawBufferPointer
    /// Where the record starts and where the next one starts.
    public var start: WALPosition
    public var end: WALPosition
}

/// Follows the WAL from a position, record by record, never past the writer's head.
///
/// It reads segment bytes in large chunks with `pread` into one reused buffer, so a record costs no
/// system call and no allocation. When it reaches the end of a closed segment it moves to the next;
/// a corrupt record in a closed segment skips the rest of that segment and is reported.
public struct WALReader {
    public let directory: String
    public private(set) var position: WALPosition
    private var fd: Int32 = -1
    private var fdSegment = -1
    private var buffer: [UInt8] = []
    private var bufferStart: Int64 = 0
    /// Large enough that catching up on a backlog costs a system call per megabyte; a record
    /// larger than this is read whole. The buffer keeps the largest size it needed.
    private let chunk = 1 << 20

    /// Starts reading at `position`; its segment is read from its start so that the series records
    /// before `position` are seen first (call ``next(head:_:)`` and skip samples before the cursor).
    public init(directory: String, position: WALPosition) {
        self.directory = directory
        self.position = position
    }

    /// Closes the open segment file.
    public mutating func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        fdSegment = -1
    }

    /// Moves to `segment`'s first record.
    public mutating func seek(segment: Int) {
        position = WALPosition(segment: segment, offset: Int64(WALFormat.segmentHeader.count))
        buffer.removeAll(keepingCapacity: true)
        bufferStart = 0
    }

    /// Calls `body` with the next record and returns true, or returns false when there is nothing
    /// new before `head`. Throws only for I/O errors; corruption is skipped and passed to `corrupt`.
    public mutating func next(
        head: WALPosition, corrupt: (String) -> Void = { _ in }, _ body: (WALRecordView) -> Void
    ) throws(WALError) -> Bool {
        while true {
            if position.segment > head.segment { return false }
            if position.offset < Int64(WALFormat.segmentHeader.count) {
                position.offset = Int64(WALFormat.segmentHeader.count)
            }
            let isHead = position.segment == head.segment
            let path = directory + "/" + WALFormat.segmentName(position.segment)
            if fdSegment != position.segment {
                close()
                buffer.removeAll(keepingCapacity: true)
                guard FileIO.size(path) != nil else {
                    // Deleted under us (disk budget) or never written: go to the next one that exists.
                    if isHead { return false }
                    seek(segment: position.segment + 1)
                    continue
                }
                fd = try FileIO.open(path, flags: O_RDONLY)
                fdSegment = position.segment
            }
            let limit: Int64 = isHead ? head.offset : (FileIO.size(path) ?? 0)
            if position.offset >= limit {
                if isHead { return false }
                seek(segment: position.segment + 1)
                continue
            }
            // Make sure the record header, then the whole record, is in the buffer.
            var need = Int64(WALFormat.recordHeaderSize)
            if !ensure(position.offset, need, limit: limit) {
                try refill(path: path, limit: limit, need: need)
            }
            guard let header = headerAt(position.offset), header.length <= WALFormat.maxRecordSize else {
                corrupt("segment \(position.segment) offset \(position.offset): bad record header")
                seek(segment: position.segment + 1)
                if isHead { return false }
                continue
            }
            need += Int64(header.length)
            if position.offset + need > limit {
                if isHead { return false }
                corrupt("segment \(position.segment) offset \(position.offset): record runs past end of segment")
                seek(segment: position.segment + 1)
                continue
            }
            if !ensure(position.offset, need, limit: limit) {
                try refill(path: path, limit: limit, need: need)
            }
            let start = position
            let end = WALPosition(segment: start.segment, offset: start.offset + need)
            var ok = false
            buffer.withUnsafeBytes { raw in
                let from = Int(start.offset - bufferStart) + WALFormat.recordHeaderSize
                let payload = UnsafeRawBufferPointer(rebasing: raw[from..<(from + header.length)])
                guard WALFormat.verify(type: header.type, payload: payload, crc: header.crc) else { return }
                ok = true
                body(
                    WALRecordView(
                        type: WALRecordType(rawValue: header.type), rawType: header.type, payload: payload,
                        start: start, end: end))
            }
            if !ok {
                corrupt("segment \(start.segment) offset \(start.offset): checksum mismatch")
                if isHead { return false }
                seek(segment: position.segment + 1)
                continue
            }
            position = end
            return true
        }
    }

    private func ensure(_ offset: Int64, _ count: Int64, limit: Int64) -> Bool {
        offset >= bufferStart && offset + count <= bufferStart + Int64(buffer.count)
    }

    private mutating func refill(path: String, limit: Int64, need: Int64) throws(WALError) {
        let want = Int(min(limit - position.offset, max(Int64(chunk), need)))
        bufferStart = position.offset
        try FileIO.read(fd, offset: position.offset, count: want, into: &buffer, path: path)
    }

    private func headerAt(_ offset: Int64) -> (type: UInt8, length: Int, crc: UInt32)? {
        let i = Int(offset - bufferStart)
        guard i >= 0, buffer.count - i >= WALFormat.recordHeaderSize else { return nil }
        return buffer.withUnsafeBytes { raw in
            (
                raw[i],
                Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i + 1, as: UInt32.self))),
                UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i + 5, as: UInt32.self))
            )
        }
    }
}

extension WALReader {
    /// Goes back to `position` in the current segment (to re-read a record consumed in part).
    public mutating func reposition(_ position: WALPosition) {
        self.position = position
    }
}
