import OutpostModel

/// Minimal protobuf writing for the remote-write messages: varints, tags, fixed64.
enum ProtoWriter {
    @inline(__always)
    static func varintSize(_ v: UInt64) -> Int {
        var n = 1
        var x = v >> 7
        while x != 0 {
            n += 1
            x >>= 7
        }
        return n
    }

    /// The body size of a `Sample` message.
    @inline(__always)
    static func sampleSize(_ s: Sample) -> Int {
        (s.value.bitPattern != 0 ? 9 : 0) + (s.timestamp != 0 ? 1 + varintSize(UInt64(bitPattern: s.timestamp)) : 0)
    }

    /// `Label { string name = 1; string value = 2; }` as field 1 of a `TimeSeries`.
    static func label(_ out: inout [UInt8], name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let body = 1 + varintSize(UInt64(name.count)) + name.count + 1 + varintSize(UInt64(value.count)) + value.count
        out.append(0x0a)
        appendUVarint(&out, UInt64(body))
        out.append(0x0a)
        appendUVarint(&out, UInt64(name.count))
        out.append(contentsOf: name)
        out.append(0x12)
        appendUVarint(&out, UInt64(value.count))
        out.append(contentsOf: value)
    }
}

/// Writes protobuf pieces through a raw pointer into space already sized for them.
struct ProtoBytes {
    var p: UnsafeMutableRawPointer

    @inline(__always) mutating func byte(_ b: UInt8) {
        p.storeBytes(of: b, as: UInt8.self)
        p += 1
    }

    @inline(__always) mutating func uvarint(_ v: UInt64) {
        var x = v
        while x >= 0x80 {
            byte(UInt8(truncatingIfNeeded: x) | 0x80)
            x >>= 7
        }
        byte(UInt8(x))
    }

    @inline(__always) mutating func fixed64(_ v: UInt64) {
        p.storeBytes(of: v.littleEndian, toByteOffset: 0, as: UInt64.self)
        p += 8
    }

    /// `Sample { double value = 1; int64 timestamp = 2; }` (length-prefixed), fields with their
    /// default value left out as protobuf encoders do (a -0.0 value is kept).
    /// A `Sample` message's length and body; `start` (remote-write 2.0's `start_timestamp`, field
    /// 3) is written when it is not 0.
    @inline(__always) mutating func sample(_ s: Sample, start: Int64 = 0) {
        let startSize = start != 0 ? 1 + ProtoWriter.varintSize(UInt64(bitPattern: start)) : 0
        uvarint(UInt64(ProtoWriter.sampleSize(s) + startSize))
        if s.value.bitPattern != 0 {
            byte(0x09)
            fixed64(s.value.bitPattern)
        }
        if s.timestamp != 0 {
            byte(0x10)
            uvarint(UInt64(bitPattern: s.timestamp))
        }
        if start != 0 {
            byte(0x18)
            uvarint(UInt64(bitPattern: start))
        }
    }

    @inline(__always) mutating func bytes(_ b: UnsafeRawBufferPointer) {
        guard let base = b.baseAddress, b.count > 0 else { return }
        p.copyMemory(from: base, byteCount: b.count)
        p += b.count
    }
}

/// Encodes a batch as a remote-write 1.0 `prometheus.WriteRequest`, by hand into a reused buffer.
///
/// Samples of one series are grouped into one `TimeSeries` (in their WAL order), so labels are sent
/// once per series per request instead of once per sample. A batch usually holds each series once
/// (one scrape's worth); then the samples keep their order and nothing is sorted.
struct WriteRequestEncoder {
    private var grouping = SampleGrouping()
    /// Runs of `order` holding one known series: from, to, and the TimeSeries' size.
    private var groups: [(Int, Int, Int)] = []
    private(set) var buffer: [UInt8] = []

    /// Encodes `samples`; samples whose series is unknown to `labels`, or dropped by write
    /// relabeling, are skipped and counted.
    mutating func encode(
        _ samples: [Sample], exemplars: [OutgoingExemplar] = [], labels: SeriesLabelCache
    ) -> (encoded: Int, unknown: Int, dropped: Int) {
        grouping.arrange(samples)
        let order = grouping.order
        // First pass: the series groups (runs of one ref in `order`), their sizes, and the total.
        groups.removeAll(keepingCapacity: true)
        var total = 0
        var encoded = 0
        var unknown = 0
        var dropped = 0
        for run in grouping.runs {
            let ref = samples[order[run.from]].ref
            if labels.isKnown(ref) {
                let seriesSize = labels.labelsLength(ref) + run.samplesSize
                total += 1 + ProtoWriter.varintSize(UInt64(seriesSize)) + seriesSize
                encoded += run.to - run.from
                groups.append((run.from, run.to, seriesSize))
            } else if labels.isDropped(ref) {
                dropped += run.to - run.from
            } else {
                unknown += run.to - run.from
            }
        }
        // Exemplars follow, one TimeSeries each (labels and the exemplar), as Prometheus sends them.
        var exemplarSizes: [Int] = []
        for e in exemplars where labels.isKnown(e.ref) {
            let ex = e.size(labelsSize: e.labelBytes.count)
            let series = labels.labelsLength(e.ref) + 1 + ProtoWriter.varintSize(UInt64(ex)) + ex
            exemplarSizes.append(series)
            total += 1 + ProtoWriter.varintSize(UInt64(series)) + series
        }
        // Second pass: write the known groups.
        let groups = self.groups
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: repeatElement(0, count: total))
        buffer.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            var w = ProtoBytes(p: base)
            for (from, to, seriesSize) in groups {
                _ = labels.withLabels(samples[order[from]].ref) { labelBytes in
                    w.byte(0x0a)
                    w.uvarint(UInt64(seriesSize))
                    w.bytes(labelBytes)
                    for k in from..<to {
                        let s = samples[order[k]]
                        w.byte(0x12)
                        w.sample(s)
                    }
                }
            }
            var k = 0
            for e in exemplars where labels.isKnown(e.ref) {
                w.byte(0x0a)
                w.uvarint(UInt64(exemplarSizes[k]))
                k += 1
                _ = labels.withLabels(e.ref) { w.bytes($0) }
                w.byte(0x1a)
                w.uvarint(UInt64(e.size(labelsSize: e.labelBytes.count)))
                e.labelBytes.withUnsafeBytes { w.bytes($0) }
                w.exemplarTail(e)
            }
            precondition(w.p == base + total, "remote-write request size mismatch")
        }
        return (encoded, unknown, dropped)
    }

    @inline(__always)
    static func sampleSize(_ s: Sample) -> Int { ProtoWriter.sampleSize(s) }
}

/// An exemplar on its way out, its labels already in the endpoint's wire form.
struct OutgoingExemplar: Sendable {
    var ref: SeriesRef
    var timestamp: Int64
    var value: Double
    /// 1.0: protobuf `Label` messages.
    var labelBytes: [UInt8]
    /// 2.0: global symbol numbers, name then value.
    var symbols: [UInt32]

    /// The body size of an `Exemplar` message around `labelsSize` bytes of labels field(s).
    func size(labelsSize: Int) -> Int {
        labelsSize + (value.bitPattern != 0 ? 9 : 0)
            + (timestamp != 0 ? 1 + ProtoWriter.varintSize(UInt64(bitPattern: timestamp)) : 0)
    }
}

extension ProtoBytes {
    /// The value and timestamp fields of an `Exemplar` (2 and 3).
    @inline(__always) mutating func exemplarTail(_ e: OutgoingExemplar) {
        if e.value.bitPattern != 0 {
            byte(0x11)
            fixed64(e.value.bitPattern)
        }
        if e.timestamp != 0 {
            byte(0x18)
            uvarint(UInt64(bitPattern: e.timestamp))
        }
    }
}

/// Puts a batch's samples in series order, each series' samples keeping their order. A batch
/// usually holds each series once (one scrape's worth); then nothing is sorted.
struct SampleGrouping {
    /// Sample indices, grouped by series.
    private(set) var order: [Int] = []
    /// The runs of one series in `order`, with the encoded size of their `Sample` fields.
    private(set) var runs: [(from: Int, to: Int, samplesSize: Int)] = []
    /// By ref: the last `arrange` call that saw the series, to find repeats without sorting.
    private var seen: [UInt32] = []
    private var epoch: UInt32 = 0

    mutating func arrange(_ samples: [Sample]) {
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: samples.indices)
        if hasRepeatedSeries(samples) {
            // Stable grouping by series: sort by (ref, position).
            order.sort { a, b in
                let ra = samples[a].ref, rb = samples[b].ref
                return ra != rb ? ra < rb : a < b
            }
        }
        runs.removeAll(keepingCapacity: true)
        var i = 0
        while i < order.count {
            let ref = samples[order[i]].ref
            var j = i
            var size = 0
            while j < order.count && samples[order[j]].ref == ref {
                let n = ProtoWriter.sampleSize(samples[order[j]])
                size += 1 + ProtoWriter.varintSize(UInt64(n)) + n
                j += 1
            }
            runs.append((i, j, size))
            i = j
        }
    }

    /// Whether some series has more than one sample in `samples`.
    private mutating func hasRepeatedSeries(_ samples: [Sample]) -> Bool {
        epoch &+= 1
        if epoch == 0 {
            for k in seen.indices { seen[k] = 0 }
            epoch = 1
        }
        var repeated = false
        for s in samples {
            guard s.ref.rawValue < 1 << 32 else { return true }
            let r = Int(s.ref.rawValue)
            if r >= seen.count { seen.append(contentsOf: repeatElement(0, count: max(r + 1, seen.count * 3 / 2) - seen.count)) }
            if seen[r] == epoch { repeated = true }
            seen[r] = epoch
        }
        return repeated
    }
}

/// Encodes metric metadata as a remote-write 1.0 `WriteRequest` holding only `metadata` (field 3):
/// `MetricMetadata { type = 1; metric_family_name = 2; help = 4; unit = 5 }`.
enum MetadataRequestEncoder {
    static func encode(_ entries: ArraySlice<MetricMetadata>, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        for m in entries {
            let type = UInt64(WriteRequestV2Encoder.wireType(m.type))
            func field(_ s: String) -> Int { s.isEmpty ? 0 : 1 + ProtoWriter.varintSize(UInt64(s.utf8.count)) + s.utf8.count }
            let body = (type != 0 ? 1 + ProtoWriter.varintSize(type) : 0) + field(m.family) + field(m.help) + field(m.unit)
            out.append(0x1a)
            appendUVarint(&out, UInt64(body))
            if type != 0 {
                out.append(0x08)
                appendUVarint(&out, type)
            }
            for (tag, text) in [(UInt8(0x12), m.family), (0x22, m.help), (0x2a, m.unit)] where !text.isEmpty {
                out.append(tag)
                appendUVarint(&out, UInt64(text.utf8.count))
                out.append(contentsOf: text.utf8)
            }
        }
    }
}
