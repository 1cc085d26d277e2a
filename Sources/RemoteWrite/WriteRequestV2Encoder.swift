import OutpostModel

/// Encodes a batch as a remote-write 2.0 `io.prometheus.write.v2.Request`, by hand into a reused
/// buffer: the request's symbol table (the empty string first, then every string in first-use
/// order), then one `TimeSeries` per series with its label symbol numbers, samples and metadata
/// (type, help, unit of its family).
///
/// Series keep global symbol numbers (``SymbolTable``); a request maps the ones it uses to its own
/// through arrays indexed by global number, stamped per request, so nothing is hashed here.
struct WriteRequestV2Encoder {
    private var grouping = SampleGrouping()
    /// Per known series: its run in `grouping.order`, where its local label numbers start in
    /// `localRefs`, its metadata (local help and unit numbers), its samples' start time and the
    /// TimeSeries' size.
    private var groups:
        [(
            from: Int, to: Int, refs: Int, refCount: Int, type: UInt8, help: UInt32, unit: UInt32, start: Int64,
            size: Int
        )] = []
    private var localRefs: [UInt32] = []
    /// By global symbol: its number in this request, valid when `stamp` equals `epoch`.
    private var localOf: [UInt32] = []
    private var stamp: [UInt32] = []
    private var epoch: UInt32 = 0
    /// Global symbols in the order of their local numbers.
    private var used: [UInt32] = []
    private(set) var buffer: [UInt8] = []

    /// The wire value of a metric type (`Metadata.MetricType`).
    static func wireType(_ t: MetricType) -> UInt8 {
        switch t {
        case .unknown: 0
        case .counter: 1
        case .gauge: 2
        case .histogram: 3
        case .gaugeHistogram: 4
        case .summary: 5
        case .info: 6
        case .stateset: 7
        }
    }

    @inline(__always)
    private mutating func local(_ global: UInt32) -> UInt32 {
        let g = Int(global)
        if g >= stamp.count {
            let grown = max(g + 1, stamp.count * 3 / 2, 1024)
            stamp.append(contentsOf: repeatElement(0, count: grown - stamp.count))
            localOf.append(contentsOf: repeatElement(0, count: grown - localOf.count))
        }
        if stamp[g] != epoch {
            stamp[g] = epoch
            localOf[g] = UInt32(used.count)
            used.append(global)
        }
        return localOf[g]
    }

    /// Encodes `samples`; samples whose series is unknown to `labels`, or dropped by write
    /// relabeling, are skipped and counted.
    /// Per exemplar sent: its series' and its own local label numbers in `localRefs`, metadata,
    /// the Exemplar's and the TimeSeries' sizes.
    private var exemplarGroups:
        [(index: Int, refs: Int, refCount: Int, own: Int, ownCount: Int, type: UInt8, help: UInt32, unit: UInt32, exSize: Int,
          size: Int)] = []

    /// The body size of a `Metadata` message.
    static func metadataSize(_ type: UInt8, _ help: UInt32, _ unit: UInt32) -> Int {
        (type != 0 ? 1 + ProtoWriter.varintSize(UInt64(type)) : 0)
            + (help != 0 ? 1 + ProtoWriter.varintSize(UInt64(help)) : 0)
            + (unit != 0 ? 1 + ProtoWriter.varintSize(UInt64(unit)) : 0)
    }

    /// The size of the packed values `values[from..<from + count]`.
    static func packedSize(_ values: [UInt32], _ from: Int, _ count: Int) -> Int {
        var n = 0
        for k in from..<(from + count) { n += ProtoWriter.varintSize(UInt64(values[k])) }
        return n
    }

    private func packedSize(_ from: Int, _ count: Int) -> Int { Self.packedSize(localRefs, from, count) }

    mutating func encode(
        _ samples: [Sample], exemplars: [OutgoingExemplar] = [], labels: SeriesLabelCache
    ) -> (encoded: Int, unknown: Int, dropped: Int) {
        grouping.arrange(samples)
        let order = grouping.order
        epoch &+= 1
        if epoch == 0 {
            for k in stamp.indices { stamp[k] = 0 }
            epoch = 1
        }
        used.removeAll(keepingCapacity: true)
        _ = local(0)  // symbols[0] is the empty string
        localRefs.removeAll(keepingCapacity: true)
        groups.removeAll(keepingCapacity: true)
        var encoded = 0
        var unknown = 0
        var dropped = 0
        // First pass: local symbol numbers and sizes.
        var seriesTotal = 0
        for run in grouping.runs {
            let ref = samples[order[run.from]].ref
            let refsStart = localRefs.count
            var refsSize = 0
            let known = labels.withSymbolRefs(ref) { globals in
                for g in globals {
                    let l = local(g)
                    localRefs.append(l)
                    refsSize += ProtoWriter.varintSize(UInt64(l))
                }
            }
            guard known else {
                if labels.isDropped(ref) { dropped += run.to - run.from } else { unknown += run.to - run.from }
                continue
            }
            var type: UInt8 = 0
            var help: UInt32 = 0
            var unit: UInt32 = 0
            if let m = labels.metadata(ref) {
                type = Self.wireType(m.type)
                help = local(m.help)
                unit = local(m.unit)
            }
            let metadataSize = Self.metadataSize(type, help, unit)
            var size = run.samplesSize + 1 + ProtoWriter.varintSize(UInt64(metadataSize)) + metadataSize
            if refsSize > 0 { size += 1 + ProtoWriter.varintSize(UInt64(refsSize)) + refsSize }
            // A sample body stays under 128 bytes with the start time too: its length prefix keeps one byte.
            let start = labels.startTimestamp(ref)
            if start != 0 { size += (run.to - run.from) * (1 + ProtoWriter.varintSize(UInt64(bitPattern: start))) }
            groups.append((run.from, run.to, refsStart, localRefs.count - refsStart, type, help, unit, start, size))
            seriesTotal += 1 + ProtoWriter.varintSize(UInt64(size)) + size
            encoded += run.to - run.from
        }
        exemplarGroups.removeAll(keepingCapacity: true)
        for (index, e) in exemplars.enumerated() {
            let refs = localRefs.count
            let known = labels.withSymbolRefs(e.ref) { globals in for g in globals { localRefs.append(local(g)) } }
            guard known else { continue }
            let own = localRefs.count
            for g in e.symbols { localRefs.append(local(g)) }
            var type: UInt8 = 0
            var help: UInt32 = 0
            var unit: UInt32 = 0
            if let m = labels.metadata(e.ref) {
                type = Self.wireType(m.type)
                help = local(m.help)
                unit = local(m.unit)
            }
            let ownSize = packedSize(own, e.symbols.count)
            let exSize = e.size(labelsSize: ownSize > 0 ? 1 + ProtoWriter.varintSize(UInt64(ownSize)) + ownSize : 0)
            let refsSize = packedSize(refs, own - refs)
            let md = Self.metadataSize(type, help, unit)
            var size = 1 + ProtoWriter.varintSize(UInt64(exSize)) + exSize + 1 + ProtoWriter.varintSize(UInt64(md)) + md
            if refsSize > 0 { size += 1 + ProtoWriter.varintSize(UInt64(refsSize)) + refsSize }
            exemplarGroups.append((index, refs, own - refs, own, e.symbols.count, type, help, unit, exSize, size))
            seriesTotal += 1 + ProtoWriter.varintSize(UInt64(size)) + size
        }
        var total = seriesTotal
        for g in used {
            let n = labels.symbols.length(g)
            total += 1 + ProtoWriter.varintSize(UInt64(n)) + n
        }
        // Second pass: write symbols, then series.
        let groups = self.groups
        let exemplarGroups = self.exemplarGroups
        let refs = self.localRefs
        let symbolsUsed = self.used
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: repeatElement(0, count: total))
        buffer.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            var w = ProtoBytes(p: base)
            for g in symbolsUsed {
                labels.symbols.withBytes(g) { bytes in
                    w.byte(0x22)
                    w.uvarint(UInt64(bytes.count))
                    w.bytes(bytes)
                }
            }
            for g in groups {
                w.byte(0x2a)
                w.uvarint(UInt64(g.size))
                w.packed(refs, g.refs..<(g.refs + g.refCount))
                for k in g.from..<g.to {
                    w.byte(0x12)
                    w.sample(samples[order[k]], start: g.start)
                }
                w.metadata(type: g.type, help: g.help, unit: g.unit)
            }
            for g in exemplarGroups {
                w.byte(0x2a)
                w.uvarint(UInt64(g.size))
                w.packed(refs, g.refs..<(g.refs + g.refCount))
                w.byte(0x22)
                w.uvarint(UInt64(g.exSize))
                w.packed(refs, g.own..<(g.own + g.ownCount))
                w.exemplarTail(exemplars[g.index])
                w.metadata(type: g.type, help: g.help, unit: g.unit)
            }
            precondition(w.p == base + total, "remote-write 2.0 request size mismatch")
        }
        return (encoded, unknown, dropped)
    }
}

extension ProtoBytes {
    /// `values[range]` as a packed `repeated uint32` field 1 (nothing when the range is empty).
    @inline(__always) mutating func packed(_ values: [UInt32], _ range: Range<Int>) {
        guard !range.isEmpty else { return }
        byte(0x0a)
        uvarint(UInt64(WriteRequestV2Encoder.packedSize(values, range.lowerBound, range.count)))
        for k in range { uvarint(UInt64(values[k])) }
    }

    /// A `TimeSeries.metadata` field (5): type, help and unit symbols, zeros left out.
    @inline(__always) mutating func metadata(type: UInt8, help: UInt32, unit: UInt32) {
        byte(0x2a)
        uvarint(UInt64(WriteRequestV2Encoder.metadataSize(type, help, unit)))
        if type != 0 {
            byte(0x08)
            uvarint(UInt64(type))
        }
        if help != 0 {
            byte(0x18)
            uvarint(UInt64(help))
        }
        if unit != 0 {
            byte(0x20)
            uvarint(UInt64(unit))
        }
    }
}
