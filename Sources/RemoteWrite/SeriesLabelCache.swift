import OutpostConfig
import OutpostModel
import Relabel
import WAL

/// Each series' labels as ready-to-send protobuf `Label` messages, external labels merged and
/// `write_relabel_configs` applied (in that order, as Prometheus does): built once per series when
/// its WAL series record is read, then copied as one block per send.
///
/// The WAL hands out dense refs from 1, so the blocks are found through arrays indexed by ref —
/// no hashing on the send path, 12 bytes per series besides the labels themselves.
///
/// 1.0 without write relabeling keeps no labels at all when given the WAL (``shared``): the
/// encoder reads each series' canonical labels from the WAL's series table and writes them as
/// `Label` messages per request, rather than every series' labels being held twice. Such a series
/// is either declared or not, so it costs one bit.
struct SeriesLabelCache {
    /// 1.0: protobuf `Label` messages per series; 2.0: symbol numbers per series (name, value, …).
    let format: RemoteWriteConfig.ProtobufMessage
    private var arena: [UInt8] = []
    /// 2.0: every string, numbered.
    private(set) var symbols = SymbolTable()
    /// 2.0: by series, the symbol numbers of its label names and values, in label order.
    private var symbolRefs: [UInt32] = []
    /// 2.0: by ref, the symbols of the metric name and of the family it may belong to (the name
    /// without a `_total`, `_bucket`, `_count`, `_sum`, `_created`, `_info`, `_gcount` or `_gsum`).
    private var names: [(name: UInt32, family: UInt32)] = []
    /// 2.0: by family symbol, the index of its metadata in `metadataEntries` (-1: none).
    private var metadataByFamily: [Int32] = []
    /// 2.0: type, help and unit symbols of each family with metadata.
    private(set) var metadataEntries: [(type: MetricType, help: UInt32, unit: UInt32)] = []
    /// 2.0: by ref, when the series started counting (0: unknown); empty until a target shows one.
    private var startTimes: [Int64] = []
    /// 1.0: every family's metadata as last read, for `metadata_config` requests.
    private(set) var families: [String: MetricMetadata] = [:]
    /// By ref: where the series' block starts in `arena`, or ``unknown`` / ``dropped`` / ``inTable``.
    private var starts: [Int] = []
    private var lengths: [UInt32] = []
    /// With ``shared``, instead of `starts` and `lengths`: the refs the WAL declared.
    private var declared = RefBitSet()
    private static let unknown = -1
    private static let dropped = -2
    /// Known, labels in the WAL's series table.
    private static let inTable = -3
    /// Where the labels of 1.0 series without write relabeling are read from, when set.
    let shared: WriteAheadLog?
    /// Refs beyond this are not from a WAL this process wrote; they are refused rather than sized for.
    private static let maxRef: UInt64 = 1 << 32
    private let externalLabels: Labels
    typealias External = [(name: [UInt8], value: [UInt8])]
    /// The external labels, sorted by name.
    let external: External
    private let writeRelabel: [RelabelRule]

    init(
        externalLabels: Labels, writeRelabel: [RelabelRule] = [], format: RemoteWriteConfig.ProtobufMessage = .v1,
        shared: WriteAheadLog? = nil
    ) {
        self.format = format
        self.shared = format == .v1 && writeRelabel.isEmpty ? shared : nil
        var ext: [(name: [UInt8], value: [UInt8])] = []
        externalLabels.forEach { n, v in ext.append((Array(n), Array(v))) }
        external = ext
        self.externalLabels = externalLabels
        self.writeRelabel = writeRelabel
    }

    private(set) var count = 0

    @inline(__always)
    private func start(_ ref: SeriesRef) -> Int {
        let i = Int(truncatingIfNeeded: ref.rawValue)
        guard ref.rawValue < Self.maxRef else { return Self.unknown }
        if shared != nil { return declared.contains(i) ? Self.inTable : Self.unknown }
        return i < starts.count ? starts[i] : Self.unknown
    }

    /// Whether `ref` has labels to send.
    func isKnown(_ ref: SeriesRef) -> Bool {
        let s = start(ref)
        return s >= 0 || s == Self.inTable
    }

    /// Whether `ref`'s labels are read from the WAL's series table.
    func isInTable(_ ref: SeriesRef) -> Bool { start(ref) == Self.inTable }

    /// Records that the WAL declared `ref` (with ``shared``: nothing else to keep).
    mutating func addDeclared(_ ref: SeriesRef) {
        guard shared != nil, ref.rawValue < Self.maxRef else { return }
        if declared.insert(Int(ref.rawValue)) { count += 1 }
    }

    /// Whether write relabeling dropped `ref`.
    func isDropped(_ ref: SeriesRef) -> Bool { start(ref) == Self.dropped }

    /// Claims `ref`'s slot; false when the ref is already recorded (or out of range).
    private mutating func claim(_ ref: SeriesRef) -> Bool {
        guard ref.rawValue < Self.maxRef else { return false }
        let i = Int(ref.rawValue)
        if i >= starts.count {
            let grown = max(i + 1, starts.count * 3 / 2, 1024)
            starts.append(contentsOf: repeatElement(Self.unknown, count: grown - starts.count))
            lengths.append(contentsOf: repeatElement(0, count: grown - lengths.count))
        }
        return starts[i] == Self.unknown
    }

    private mutating func record(_ ref: SeriesRef, from start: Int) {
        let i = Int(ref.rawValue)
        starts[i] = start
        lengths[i] = UInt32((format == .v1 ? arena.count : symbolRefs.count) - start)
        count += 1
    }

    /// Records a family's metadata (the WAL's metadata records).
    mutating func addMetadata(_ m: MetricMetadata) {
        switch format {
        case .v1:
            families[m.family] = m
        case .v2:
            let family = Int(symbols.intern(m.family))
            if family >= metadataByFamily.count {
                metadataByFamily.append(contentsOf: repeatElement(-1, count: symbols.count - metadataByFamily.count + 64))
            }
            let entry = (m.type, symbols.intern(m.help), symbols.intern(m.unit))
            if metadataByFamily[family] >= 0 {
                metadataEntries[Int(metadataByFamily[family])] = entry
            } else {
                metadataByFamily[family] = Int32(metadataEntries.count)
                metadataEntries.append(entry)
            }
        }
    }

    /// 2.0: when `ref` started counting, in milliseconds; 0 when unknown.
    @inline(__always)
    func startTimestamp(_ ref: SeriesRef) -> Int64 {
        let i = Int(truncatingIfNeeded: ref.rawValue)
        return ref.rawValue < Self.maxRef && i < startTimes.count ? startTimes[i] : 0
    }

    /// 2.0: records the start times of a WAL starts record.
    mutating func addStarts(_ payload: UnsafeRawBufferPointer) -> Bool {
        WALCodec.decodeStarts(payload) { s in
            guard format == .v2, s.ref.rawValue < Self.maxRef else { return }
            let i = Int(s.ref.rawValue)
            if i >= startTimes.count {
                startTimes.append(contentsOf: repeatElement(0, count: max(i + 1, startTimes.count * 3 / 2, 1024) - startTimes.count))
            }
            startTimes[i] = s.start
        }
    }

    /// 2.0: whether a starts record changes a start time already known (a counter that restarted):
    /// samples read before it must be sent with the old one.
    func changesStarts(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard format == .v2, !startTimes.isEmpty else { return false }
        var changes = false
        _ = WALCodec.decodeStarts(payload) { s in
            let known = startTimestamp(s.ref)
            if known != 0 && known != s.start { changes = true }
        }
        return changes
    }

    /// 2.0: the metadata of `ref`'s family, if its targets sent any.
    func metadata(_ ref: SeriesRef) -> (type: MetricType, help: UInt32, unit: UInt32)? {
        let i = Int(truncatingIfNeeded: ref.rawValue)
        guard i < names.count else { return nil }
        let (name, family) = names[i]
        if Int(name) < metadataByFamily.count, metadataByFamily[Int(name)] >= 0 {
            return metadataEntries[Int(metadataByFamily[Int(name)])]
        }
        if Int(family) < metadataByFamily.count, metadataByFamily[Int(family)] >= 0 {
            return metadataEntries[Int(metadataByFamily[Int(family)])]
        }
        return nil
    }

    /// An exemplar's labels in this cache's format: protobuf `Label` messages (1.0) or symbol
    /// numbers, name then value (2.0).
    mutating func exemplarLabels(_ labels: Labels) -> (bytes: [UInt8], symbols: [UInt32]) {
        var bytes: [UInt8] = []
        var ids: [UInt32] = []
        labels.forEach { n, v in
            switch format {
            case .v1: ProtoWriter.label(&bytes, name: n, value: v)
            case .v2:
                ids.append(symbols.intern(n))
                ids.append(symbols.intern(v))
            }
        }
        return (bytes, ids)
    }

    /// 2.0: calls `body` with `ref`'s label symbol numbers, or returns false if it is unknown.
    func withSymbolRefs(_ ref: SeriesRef, _ body: (UnsafeBufferPointer<UInt32>) -> Void) -> Bool {
        let s = start(ref)
        guard s >= 0 else { return false }
        let n = Int(lengths[Int(ref.rawValue)])
        symbolRefs.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[s..<(s + n)])) }
        return true
    }

    static let familySuffixes = ["_total", "_bucket", "_count", "_sum", "_created", "_info", "_gcount", "_gsum"].map {
        Array($0.utf8)
    }

    /// 2.0: interns the final labels of `ref` and notes its metric and family names.
    private mutating func recordSymbols(_ ref: SeriesRef, _ labels: Labels) {
        let start = symbolRefs.count
        var name: UInt32 = 0
        var family: UInt32 = 0
        labels.forEach { n, v in
            let nid = symbols.intern(n)
            let vid = symbols.intern(v)
            symbolRefs.append(nid)
            symbolRefs.append(vid)
            if n.elementsEqual("__name__".utf8) {
                name = vid
                family = vid
                for suffix in Self.familySuffixes where v.count > suffix.count && v.suffix(suffix.count).elementsEqual(suffix) {
                    family = symbols.intern(UnsafeRawBufferPointer(rebasing: v[..<(v.count - suffix.count)]))
                    break
                }
            }
        }
        let i = Int(ref.rawValue)
        if i >= names.count { names.append(contentsOf: repeatElement((name: UInt32(0), family: UInt32(0)), count: max(i + 1, names.count * 3 / 2) - names.count)) }
        names[i] = (name, family)
        record(ref, from: start)
    }

    /// Records `labels` for `ref`; a ref already known keeps its first encoding (series records repeat
    /// at the start of every segment with the same labels).
    mutating func add(_ ref: SeriesRef, _ labels: Labels) {
        if shared != nil { return addDeclared(ref) }
        guard claim(ref) else { return }
        if format == .v2 {
            var b = LabelsBuilder(labels)
            externalLabels.forEach { n, v in
                let name = Array(n)
                if !b.has(name) { b.set(name, Array(v)) }
            }
            guard writeRelabel.isEmpty || Relabeler.process(&b, writeRelabel) else {
                starts[Int(ref.rawValue)] = Self.dropped
                return
            }
            recordSymbols(ref, b.labels())
            return
        }
        if !writeRelabel.isEmpty {
            var b = LabelsBuilder(labels)
            externalLabels.forEach { n, v in
                let name = Array(n)
                if !b.has(name) { b.set(name, Array(v)) }
            }
            guard Relabeler.process(&b, writeRelabel) else {
                starts[Int(ref.rawValue)] = Self.dropped
                return
            }
            let start = arena.count
            b.labels().forEach { name, value in ProtoWriter.label(&arena, name: name, value: value) }
            record(ref, from: start)
            return
        }
        let start = arena.count
        labels.bytes.withUnsafeBytes { canonical in
            Self.forEachMerged(canonical, external) { ProtoWriter.label(&arena, name: $0, value: $1) }
        }
        record(ref, from: start)
    }

    /// Calls `body` with each label of canonical label bytes merged with the external labels, in
    /// name order (both are sorted; the series' own label wins a tie).
    @inline(__always)
    static func forEachMerged(
        _ canonical: UnsafeRawBufferPointer, _ external: External,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void
    ) {
        var ext = 0
        Labels.forEach(canonical: canonical) { name, value in
            while ext < external.count && external[ext].name.lexicographicallyPrecedes(name) {
                external[ext].name.withUnsafeBytes { n in external[ext].value.withUnsafeBytes { v in body(n, v) } }
                ext += 1
            }
            if ext < external.count && external[ext].name.elementsEqual(name) { ext += 1 }
            body(name, value)
        }
        while ext < external.count {
            external[ext].name.withUnsafeBytes { n in external[ext].value.withUnsafeBytes { v in body(n, v) } }
            ext += 1
        }
    }

    /// Calls `body` with the encoded labels of `ref`, or returns false if the series is unknown.
    func withLabels(_ ref: SeriesRef, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        let s = start(ref)
        guard s >= 0 else { return false }
        let n = Int(lengths[Int(ref.rawValue)])
        arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[s..<(s + n)])) }
        return true
    }

    /// The length of `ref`'s block; 0 when unknown.
    func labelsLength(_ ref: SeriesRef) -> Int { start(ref) >= 0 ? Int(lengths[Int(ref.rawValue)]) : 0 }
}
