import OutpostModel

/// A position in the WAL: a segment number and a byte offset inside it.
public struct WALPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var segment: Int
    public var offset: Int64
    public init(segment: Int, offset: Int64) {
        self.segment = segment
        self.offset = offset
    }
    public static func < (a: WALPosition, b: WALPosition) -> Bool {
        (a.segment, a.offset) < (b.segment, b.offset)
    }
    public var description: String { "\(segment):\(offset)" }
}

/// The kinds of record a segment holds. Values are part of the on-disk format (docs/wal.md).
public enum WALRecordType: UInt8, Sendable {
    case series = 1
    case samples = 2
    /// Exemplars of the samples appended with them.
    case exemplars = 3
    /// Metric family metadata (type, help, unit), keyed by family name.
    case metadata = 4
    /// Reserved for native histograms.
    case histograms = 5
    /// When series started counting (their `_created` time), for remote-write 2.0. Since version 2.
    case starts = 6
}

/// The on-disk framing, shared by the writer, the reader and repair.
public enum WALFormat {
    /// Every segment starts with these 8 bytes: "OPWAL", the format version, two reserved zeros.
    /// Writers write the newest version.
    public static let segmentHeader: [UInt8] = Array("OPWAL".utf8) + [version, 0, 0]
    /// Version 2 added the starts record; version 1 segments read the same otherwise.
    public static let version: UInt8 = 2
    public static let readableVersions: ClosedRange<UInt8> = 1...2

    /// Whether `raw` begins with a segment header of a version this build reads.
    public static func hasReadableHeader(_ raw: some Collection<UInt8>) -> Bool {
        guard raw.count >= segmentHeader.count else { return false }
        var i = raw.startIndex
        for k in 0..<segmentHeader.count {
            let b = raw[i]
            let ok = k == 5 ? readableVersions.contains(b) : b == segmentHeader[k]
            guard ok else { return false }
            i = raw.index(after: i)
        }
        return true
    }
    /// type (1) + payload length (4, LE) + CRC32C of type and payload (4, LE).
    public static let recordHeaderSize = 9
    /// The largest payload a reader accepts; anything larger is corruption.
    public static let maxRecordSize = 64 << 20

    /// Segment files are named by their number, zero-padded to eight digits.
    public static func segmentName(_ n: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// Appends a framed record to `out`.
    public static func appendRecord(_ out: inout [UInt8], type: WALRecordType, payload: UnsafeRawBufferPointer) {
        out.append(type.rawValue)
        appendUInt32LE(&out, UInt32(payload.count))
        var crc = withUnsafeBytes(of: type.rawValue) { CRC32C.update(0, $0) }
        crc = CRC32C.update(crc, payload)
        appendUInt32LE(&out, crc)
        out.append(contentsOf: payload)
    }

    /// Checks a record's checksum.
    public static func verify(type: UInt8, payload: UnsafeRawBufferPointer, crc: UInt32) -> Bool {
        var c = withUnsafeBytes(of: type) { CRC32C.update(0, $0) }
        c = CRC32C.update(c, payload)
        return c == crc
    }
}

/// Encoding and decoding of record payloads.
public enum WALCodec {
    /// Series payload: repeated `uvarint ref, uvarint len, canonical label bytes`.
    public static func appendSeries(_ out: inout [UInt8], ref: SeriesRef, labels: Labels) {
        appendUVarint(&out, ref.rawValue)
        appendUVarint(&out, UInt64(labels.bytes.count))
        out.append(contentsOf: labels.bytes)
    }

    /// `appendSeries` for label bytes already in canonical form.
    static func appendSeries(_ out: inout [UInt8], ref: SeriesRef, canonical labels: UnsafeRawBufferPointer) {
        appendUVarint(&out, ref.rawValue)
        appendUVarint(&out, UInt64(labels.count))
        out.append(contentsOf: labels)
    }

    /// Decodes a series payload without copying the labels; returns false if it is malformed.
    public static func decodeSeriesBytes(
        _ payload: UnsafeRawBufferPointer, _ body: (SeriesRef, UnsafeRawBufferPointer) -> Void
    ) -> Bool {
        var r = ByteReader(payload)
        while !r.isAtEnd {
            guard let ref = r.uvarint(), let bytes = r.lengthPrefixed() else { return false }
            body(SeriesRef(ref), bytes)
        }
        return true
    }

    /// Decodes a series payload; returns false if it is malformed.
    public static func decodeSeries(_ payload: UnsafeRawBufferPointer, _ body: (SeriesRef, Labels) -> Void) -> Bool {
        var r = ByteReader(payload)
        while !r.isAtEnd {
            guard let ref = r.uvarint(), let bytes = r.lengthPrefixed() else { return false }
            body(SeriesRef(ref), Labels(canonicalBytes: Array(bytes)))
        }
        return true
    }

    /// Metadata payload: repeated `uvarint len, family name, type byte (MetricType), uvarint len,
    /// help, uvarint len, unit`.
    public static func appendMetadata(_ out: inout [UInt8], _ m: MetricMetadata) {
        appendUVarint(&out, UInt64(m.family.utf8.count))
        out.append(contentsOf: m.family.utf8)
        out.append(m.type.rawValue)
        appendUVarint(&out, UInt64(m.help.utf8.count))
        out.append(contentsOf: m.help.utf8)
        appendUVarint(&out, UInt64(m.unit.utf8.count))
        out.append(contentsOf: m.unit.utf8)
    }

    /// Decodes a metadata payload; returns false if it is malformed.
    public static func decodeMetadata(_ payload: UnsafeRawBufferPointer, _ body: (MetricMetadata) -> Void) -> Bool {
        var r = ByteReader(payload)
        while !r.isAtEnd {
            guard let family = r.lengthPrefixed(), r.offset < payload.count else { return false }
            let type = MetricType(rawValue: payload[r.offset]) ?? .unknown
            r.offset += 1
            guard let help = r.lengthPrefixed(), let unit = r.lengthPrefixed() else { return false }
            body(
                MetricMetadata(
                    family: String(decoding: family, as: UTF8.self), type: type, help: String(decoding: help, as: UTF8.self),
                    unit: String(decoding: unit, as: UTF8.self)))
        }
        return true
    }

    /// Starts payload: repeated `uvarint ref, varint start` (milliseconds).
    public static func appendStarts(_ out: inout [UInt8], _ starts: some Sequence<SeriesStart>) {
        for s in starts {
            appendUVarint(&out, s.ref.rawValue)
            appendVarint(&out, s.start)
        }
    }

    /// Decodes a starts payload; returns false if it is malformed.
    public static func decodeStarts(_ payload: UnsafeRawBufferPointer, _ body: (SeriesStart) -> Void) -> Bool {
        var r = ByteReader(payload)
        while !r.isAtEnd {
            guard let ref = r.uvarint(), let start = r.varint() else { return false }
            body(SeriesStart(ref: SeriesRef(ref), start: start))
        }
        return true
    }

    /// Exemplars payload: repeated `uvarint ref, varint timestamp, 8 bytes value (IEEE-754, LE),
    /// uvarint len, canonical label bytes`.
    public static func appendExemplars(_ out: inout [UInt8], _ exemplars: [Exemplar]) {
        for e in exemplars {
            appendUVarint(&out, e.ref.rawValue)
            appendVarint(&out, e.timestamp)
            withUnsafeBytes(of: e.value.bitPattern.littleEndian) { out.append(contentsOf: $0) }
            appendUVarint(&out, UInt64(e.labels.bytes.count))
            out.append(contentsOf: e.labels.bytes)
        }
    }

    /// Decodes an exemplars payload; returns false if it is malformed.
    public static func decodeExemplars(_ payload: UnsafeRawBufferPointer, _ body: (Exemplar) -> Void) -> Bool {
        var r = ByteReader(payload)
        while !r.isAtEnd {
            guard let ref = r.uvarint(), let ts = r.varint(), let bits = r.uint64LE(), let labels = r.lengthPrefixed()
            else { return false }
            body(
                Exemplar(
                    ref: SeriesRef(ref), timestamp: ts, value: Double(bitPattern: bits),
                    labels: Labels(canonicalBytes: Array(labels))))
        }
        return true
    }

    /// Samples payload: `uvarint count`, then per sample a tag
    /// `uvarint (zigzag(Δref) << 3 | kind << 1 | timestampChanged)`, then `varint Δtimestamp` only
    /// when it is not 0 (deltas from the previous sample of the record, from 0 for the first: all
    /// samples of a scrape usually share one timestamp), then the value by kind:
    /// 1 — an integer a double holds exactly (counters, 0/1 gauges, sizes): zig-zag varint;
    /// 2 — a decimal with 1 to 9 fraction digits that round-trips exactly (`12345.67`,
    ///     `1.7355e-05`): `uvarint digits`, zig-zag varint mantissa;
    /// 0 — anything else: the 8 IEEE-754 bytes, little-endian (every NaN payload kept, the
    ///     staleness marker included).
    /// Refs are the WAL's dense counters, far below the 2^60 the tag can carry.
    public static func appendSamples(_ out: inout [UInt8], _ samples: UnsafeBufferPointer<Sample>) {
        appendUVarint(&out, UInt64(samples.count))
        var prevRef: Int64 = 0
        var prevTs: Int64 = 0
        for s in samples {
            let ref = Int64(bitPattern: s.ref.rawValue)
            let d = ref &- prevRef
            let zigzag = UInt64(bitPattern: (d << 1) ^ (d >> 63))
            let dts = s.timestamp &- prevTs
            let v = s.value
            let kind: UInt64
            var decimal: (digits: Int, mantissa: Int64) = (0, 0)
            // Integral, exactly representable, and not -0 (whose sign an integer would lose).
            if v.magnitude < 9_007_199_254_740_992 && v == v.rounded(.towardZero)
                && v.bitPattern != (-0.0 as Double).bitPattern
            {
                kind = 1
            } else if let d = decimalForm(v) {
                kind = 2
                decimal = d
            } else {
                kind = 0
            }
            appendUVarint(&out, zigzag << 3 | kind << 1 | (dts != 0 ? 1 : 0))
            if dts != 0 { appendVarint(&out, dts) }
            switch kind {
            case 1: appendVarint(&out, Int64(v))
            case 2:
                appendUVarint(&out, UInt64(decimal.digits))
                appendVarint(&out, decimal.mantissa)
            default: appendUInt64LE(&out, v.bitPattern)
            }
            prevRef = ref
            prevTs = s.timestamp
        }
    }

    static let powersOfTen: [Double] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]

    /// `v` as mantissa / 10^digits when that division gives back exactly `v` (the decoder does the
    /// same division, so the round trip is bit for bit).
    @inline(__always)
    static func decimalForm(_ v: Double) -> (digits: Int, mantissa: Int64)? {
        guard v.isFinite, v != 0 else { return nil }
        for digits in 1...9 {
            let scaled = (v * powersOfTen[digits]).rounded()
            guard scaled.magnitude < 9_007_199_254_740_992 else { return nil }
            if scaled / powersOfTen[digits] == v { return (digits, Int64(scaled)) }
        }
        return nil
    }

    /// Decodes a samples payload, appending to `out`; returns false if it is malformed.
    public static func decodeSamples(_ payload: UnsafeRawBufferPointer, into out: inout [Sample]) -> Bool {
        var r = ByteReader(payload)
        guard let count = r.uvarint(), count <= UInt64(payload.count) else { return false }
        var ref: Int64 = 0
        var ts: Int64 = 0
        out.reserveCapacity(out.count + Int(count))
        for _ in 0..<count {
            guard let tag = r.uvarint() else { return false }
            let z = tag >> 3
            ref &+= Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1)
            if tag & 1 == 1 {
                guard let dt = r.varint() else { return false }
                ts &+= dt
            }
            let value: Double
            switch (tag >> 1) & 3 {
            case 1:
                guard let i = r.varint() else { return false }
                value = Double(i)
            case 2:
                guard let digits = r.uvarint(), digits >= 1, digits <= 9, let m = r.varint() else { return false }
                value = Double(m) / powersOfTen[Int(digits)]
            case 0:
                guard let bits = r.uint64LE() else { return false }
                value = Double(bitPattern: bits)
            default:
                return false
            }
            out.append(Sample(ref: SeriesRef(UInt64(bitPattern: ref)), timestamp: ts, value: value))
        }
        return r.isAtEnd
    }
}
