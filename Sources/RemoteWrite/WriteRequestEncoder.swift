import OutpostModel
import WAL

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

    /// The body size of a `Label` message.
    @inline(__always)
    static func labelSize(_ name: Int, _ value: Int) -> Int {
        1 + varintSize(UInt64(name)) + name + 1 + varintSize(UInt64(value)) + value
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

    /// A `Label { string name = 1; string value = 2; }` as field 1 of a `TimeSeries`.
    @inline(__always) mutating func label(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        byte(0x0a)
        uvarint(UInt64(ProtoWriter.labelSize(name.count, value.count)))
        byte(0x0a)
        uvarint(UInt64(name.count))
        bytes(name)
        byte(0x12)
        uvarint(UInt64(value.count))
        bytes(value)
    }

    /// `count` bytes copied 16 at a time: the source and this buffer must have ``strideSlack``
    /// bytes past them.
    @inline(__always) mutating func bytesInStrides(_ source: UnsafeRawPointer, _ count: Int) {
        copyInStrides(p, source, count: count)
        p += count
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
    /// Runs of `order` holding one known series: the run's number, from, to, and the TimeSeries' size.
    private var groups: [(run: Int, from: Int, to: Int, size: Int)] = []
    /// Per exemplar sent: its index and the TimeSeries' size.
    private var exemplarGroups: [(index: Int, size: Int)] = []
    private(set) var buffer: [UInt8] = []
    /// The canonical labels of the request's series that the WAL's table holds, copied out under
    /// its lock once per request; by run and by exemplar, where each one's are (-1: not here).
    private var tableLabels: [UInt8] = []
    private var runLabels: [Range<Int>] = []
    private var exemplarLabels: [Range<Int>] = []

    private static let notInTable = -1..<(-1)

    /// Encodes `samples`; samples whose series is unknown to `labels`, or dropped by write
    /// relabeling, are skipped and counted. Series whose labels are in the WAL's table are copied
    /// from it first, under its lock, taken once for the request.
    mutating func encode(
        _ samples: [Sample], exemplars: [OutgoingExemplar] = [], labels: SeriesLabelCache
    ) -> (encoded: Int, unknown: Int, dropped: Int) {
        grouping.arrange(samples)
        var scratch: [UInt8] = []
        var runs: [Range<Int>] = []
        var exemplarRuns: [Range<Int>] = []
        swap(&scratch, &tableLabels)
        swap(&runs, &runLabels)
        swap(&exemplarRuns, &exemplarLabels)
        defer {
            swap(&scratch, &tableLabels)
            swap(&runs, &runLabels)
            swap(&exemplarRuns, &exemplarLabels)
        }
        scratch.removeAll(keepingCapacity: true)
        runs.removeAll(keepingCapacity: true)
        exemplarRuns.removeAll(keepingCapacity: true)
        if let wal = labels.shared {
            let order = grouping.order
            let refs = grouping.runs.lazy.map { samples[order[$0.from]].ref }
            wal.withSeriesTable { table in
                Self.gather(table, refs, labels, &scratch, &runs)
                Self.gather(table, exemplars.lazy.map(\.ref), labels, &scratch, &exemplarRuns)
            }
        }
        scratch.append(contentsOf: repeatElement(0, count: strideSlack))  // for `writeLabels`' strides
        return scratch.withUnsafeBytes { all in
            encode(samples, exemplars: exemplars, labels: labels, table: all, runs: runs, exemplarRuns: exemplarRuns)
        }
    }

    /// Copies the labels of the series of `refs` that `labels` says are in `table` to `scratch`,
    /// noting where each one's are.
    private static func gather(
        _ table: SeriesTable, _ refs: some Sequence<SeriesRef>, _ labels: SeriesLabelCache, _ scratch: inout [UInt8],
        _ ranges: inout [Range<Int>]
    ) {
        for ref in refs {
            let from = scratch.count
            if labels.isInTable(ref) && table.appendLabels(ref, to: &scratch) {
                ranges.append(from..<scratch.count)
            } else {
                ranges.append(notInTable)
            }
        }
    }

    /// The canonical labels gathered from the table for a run or exemplar, if any.
    @inline(__always)
    private static func canonical(_ all: UnsafeRawBufferPointer, _ ranges: [Range<Int>], _ i: Int) -> UnsafeRawBufferPointer? {
        guard i < ranges.count, ranges[i].lowerBound >= 0 else { return nil }
        return UnsafeRawBufferPointer(rebasing: all[ranges[i]])
    }

    /// The size of a series' `Label` messages, external labels merged in; nil when the series is
    /// unknown or dropped.
    @inline(__always)
    private static func labelsSize(
        _ ref: SeriesRef, _ canonical: UnsafeRawBufferPointer?, _ labels: SeriesLabelCache,
        _ external: SeriesLabelCache.External
    ) -> Int? {
        guard let canonical else {
            return !labels.isInTable(ref) && labels.isKnown(ref) ? labels.labelsLength(ref) : nil
        }
        if external.isEmpty, let short = Self.shortLabelsSize(canonical) { return short }
        var size = 0
        SeriesLabelCache.forEachMerged(canonical, external) { n, v in
            let body = ProtoWriter.labelSize(n.count, v.count)
            size += 1 + ProtoWriter.varintSize(UInt64(body)) + body
        }
        return size
    }

    private mutating func encode(
        _ samples: [Sample], exemplars: [OutgoingExemplar], labels: SeriesLabelCache, table all: UnsafeRawBufferPointer,
        runs tableRuns: [Range<Int>], exemplarRuns: [Range<Int>]
    ) -> (encoded: Int, unknown: Int, dropped: Int) {
        let order = grouping.order
        // First pass: the series groups (runs of one ref in `order`), their sizes, and the total.
        groups.removeAll(keepingCapacity: true)
        exemplarGroups.removeAll(keepingCapacity: true)
        let external = labels.external
        var total = 0
        var encoded = 0
        var unknown = 0
        var dropped = 0
        for (i, run) in grouping.runs.enumerated() {
            let ref = samples[order[run.from]].ref
            guard let labelsSize = Self.labelsSize(ref, Self.canonical(all, tableRuns, i), labels, external) else {
                if labels.isDropped(ref) { dropped += run.to - run.from } else { unknown += run.to - run.from }
                continue
            }
            let seriesSize = labelsSize + run.samplesSize
            total += 1 + ProtoWriter.varintSize(UInt64(seriesSize)) + seriesSize
            encoded += run.to - run.from
            groups.append((i, run.from, run.to, seriesSize))
        }
        // Exemplars follow, one TimeSeries each (labels and the exemplar), as Prometheus sends them.
        for (index, e) in exemplars.enumerated() {
            guard let labelsSize = Self.labelsSize(e.ref, Self.canonical(all, exemplarRuns, index), labels, external)
            else { continue }
            let ex = e.size(labelsSize: e.labelBytes.count)
            let series = labelsSize + 1 + ProtoWriter.varintSize(UInt64(ex)) + ex
            exemplarGroups.append((index, series))
            total += 1 + ProtoWriter.varintSize(UInt64(series)) + series
        }
        // Second pass: write the known groups.
        let groups = self.groups
        let exemplarGroups = self.exemplarGroups
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: repeatElement(0, count: total + strideSlack))  // for `writeLabels`' strides
        defer { buffer.removeLast(strideSlack) }
        buffer.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            var w = ProtoBytes(p: base)
            for g in groups {
                w.byte(0x0a)
                w.uvarint(UInt64(g.size))
                Self.writeLabels(&w, samples[order[g.from]].ref, Self.canonical(all, tableRuns, g.run), labels, external)
                for k in g.from..<g.to {
                    w.byte(0x12)
                    w.sample(samples[order[k]])
                }
            }
            for g in exemplarGroups {
                let e = exemplars[g.index]
                w.byte(0x0a)
                w.uvarint(UInt64(g.size))
                Self.writeLabels(&w, e.ref, Self.canonical(all, exemplarRuns, g.index), labels, external)
                w.byte(0x1a)
                w.uvarint(UInt64(e.size(labelsSize: e.labelBytes.count)))
                e.labelBytes.withUnsafeBytes { w.bytes($0) }
                w.exemplarTail(e)
            }
            precondition(w.p == base + total, "remote-write request size mismatch")
        }
        return (encoded, unknown, dropped)
    }

    /// When every name and value of `canonical` is shorter than 124 bytes, each `Label` message is
    /// its canonical pair (one length byte each) plus four bytes: two tags, the message's length and
    /// its field tag. Nil otherwise.
    @inline(__always)
    private static func shortLabelsSize(_ canonical: UnsafeRawBufferPointer) -> Int? {
        guard let base = canonical.baseAddress else { return 0 }
        var i = 0
        var count = 0
        while i < canonical.count {
            let n = Int(base.load(fromByteOffset: i, as: UInt8.self))
            guard i + 1 + n < canonical.count else { return nil }
            let v = Int(base.load(fromByteOffset: i + 1 + n, as: UInt8.self))
            guard n + v + 4 < 128 else { return nil }
            i += 2 + n + v
            count += 1
        }
        return i == canonical.count ? i + 4 * count : nil
    }

    /// Writes a series' `Label` messages: its canonical labels from the WAL's table merged with
    /// the external labels, or as the label cache keeps them.
    @inline(__always)
    private static func writeLabels(
        _ w: inout ProtoBytes, _ ref: SeriesRef, _ canonical: UnsafeRawBufferPointer?, _ labels: SeriesLabelCache,
        _ external: SeriesLabelCache.External
    ) {
        guard let canonical else {
            _ = labels.withLabels(ref) { w.bytes($0) }
            return
        }
        guard external.isEmpty, let base = canonical.baseAddress, shortLabelsSize(canonical) != nil else {
            SeriesLabelCache.forEachMerged(canonical, external) { w.label($0, $1) }
            return
        }
        // Short labels: the canonical length-prefixed name and value are the fields' bytes. Both
        // the gathered labels and the request have `strideSlack` bytes past their end.
        var i = 0
        while i < canonical.count {
            let n = Int(base.load(fromByteOffset: i, as: UInt8.self))
            let v = Int(base.load(fromByteOffset: i + 1 + n, as: UInt8.self))
            w.byte(0x0a)
            w.byte(UInt8(n + v + 4))
            w.byte(0x0a)
            w.bytesInStrides(base + i, 1 + n)
            w.byte(0x12)
            w.bytesInStrides(base + i + 1 + n, 1 + v)
            i += 2 + n + v
        }
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
    /// The batch's refs (plus one; 0 is empty), an open-addressing set that finds repeats without
    /// sorting. Sized by the batch, not by the number of series, and cleared for each batch.
    private var seen: [UInt64] = []

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
        var capacity = 64
        while capacity < 2 * samples.count { capacity <<= 1 }
        if seen.count < capacity { seen = Array(repeating: 0, count: capacity) }
        let mask = capacity - 1
        return seen.withUnsafeMutableBufferPointer { table -> Bool in
            table[..<capacity].update(repeating: 0)
            for s in samples {
                let key = s.ref.rawValue &+ 1
                if key == 0 { return true }  // the one ref with no key: sorting is always right
                var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
                while true {
                    let entry = table[slot]
                    if entry == key { return true }
                    if entry == 0 {
                        table[slot] = key
                        break
                    }
                    slot = (slot + 1) & mask
                }
            }
            return false
        }
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
