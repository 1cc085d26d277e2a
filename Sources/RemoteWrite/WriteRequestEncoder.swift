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

/// Encodes a batch as a remote-write 1.0 `prometheus.WriteRequest`, by hand into a reused buffer.
///
/// Samples of one series are grouped into one `TimeSeries` (in their WAL order), so labels are sent
/// once per series per request instead of once per sample.
struct WriteRequestEncoder {
    private var order: [Int] = []
    private(set) var buffer: [UInt8] = []

    /// Encodes `samples`; samples whose series is unknown to `labels`, or dropped by write
    /// relabeling, are skipped and counted.
    mutating func encode(_ samples: [Sample], labels: SeriesLabelCache) -> (encoded: Int, unknown: Int, dropped: Int) {
        buffer.removeAll(keepingCapacity: true)
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: samples.indices)
        // Stable grouping by series: sort by (ref, position).
        order.sort { a, b in
            let ra = samples[a].ref, rb = samples[b].ref
            return ra != rb ? ra < rb : a < b
        }
        var encoded = 0
        var unknown = 0
        var dropped = 0
        var i = 0
        while i < order.count {
            let ref = samples[order[i]].ref
            var j = i
            var samplesSize = 0
            while j < order.count && samples[order[j]].ref == ref {
                let size = sampleSize(samples[order[j]])
                samplesSize += 1 + ProtoWriter.varintSize(UInt64(size)) + size
                j += 1
            }
            let known = labels.withLabels(ref) { labelBytes in
                let seriesSize = labelBytes.count + samplesSize
                buffer.append(0x0a)
                appendUVarint(&buffer, UInt64(seriesSize))
                buffer.append(contentsOf: labelBytes)
                for k in i..<j {
                    let s = samples[order[k]]
                    buffer.append(0x12)
                    appendUVarint(&buffer, UInt64(sampleSize(s)))
                    buffer.append(0x09)
                    appendUInt64LE(&buffer, s.value.bitPattern)
                    if s.timestamp != 0 {
                        buffer.append(0x10)
                        appendUVarint(&buffer, UInt64(bitPattern: s.timestamp))
                    }
                }
            }
            if known {
                encoded += j - i
            } else if labels.isDropped(ref) {
                dropped += j - i
            } else {
                unknown += j - i
            }
            i = j
        }
        return (encoded, unknown, dropped)
    }

    /// `Sample { double value = 1; int64 timestamp = 2; }`.
    @inline(__always)
    private func sampleSize(_ s: Sample) -> Int {
        9 + (s.timestamp != 0 ? 1 + ProtoWriter.varintSize(UInt64(bitPattern: s.timestamp)) : 0)
    }
}
