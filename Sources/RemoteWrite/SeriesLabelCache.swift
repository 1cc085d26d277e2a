import OutpostModel
import Relabel

/// Each series' labels as ready-to-send protobuf `Label` messages, external labels merged and
/// `write_relabel_configs` applied (in that order, as Prometheus does): built once per series when
/// its WAL series record is read, then copied as one block per send.
///
/// The WAL hands out dense refs from 1, so the blocks are found through arrays indexed by ref —
/// no hashing on the send path, 12 bytes per series besides the labels themselves.
struct SeriesLabelCache {
    private var arena: [UInt8] = []
    /// By ref: where the series' block starts in `arena`, or ``unknown`` / ``dropped``.
    private var starts: [Int] = []
    private var lengths: [UInt32] = []
    private static let unknown = -1
    private static let dropped = -2
    /// Refs beyond this are not from a WAL this process wrote; they are refused rather than sized for.
    private static let maxRef: UInt64 = 1 << 32
    private let externalLabels: Labels
    private let external: [(name: [UInt8], value: [UInt8])]
    private let writeRelabel: [RelabelRule]

    init(externalLabels: Labels, writeRelabel: [RelabelRule] = []) {
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
        return ref.rawValue < Self.maxRef && i < starts.count ? starts[i] : Self.unknown
    }

    /// Whether `ref` has labels to send.
    func isKnown(_ ref: SeriesRef) -> Bool { start(ref) >= 0 }

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
        lengths[i] = UInt32(arena.count - start)
        count += 1
    }

    /// Records `labels` for `ref`; a ref already known keeps its first encoding (series records repeat
    /// at the start of every segment with the same labels).
    mutating func add(_ ref: SeriesRef, _ labels: Labels) {
        guard claim(ref) else { return }
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
        // Merge the series' sorted labels with the sorted external labels; the series wins on a tie.
        var ext = 0
        labels.forEach { name, value in
            while ext < external.count && external[ext].name.lexicographicallyPrecedes(name) {
                external[ext].name.withUnsafeBytes { n in
                    external[ext].value.withUnsafeBytes { v in ProtoWriter.label(&arena, name: n, value: v) }
                }
                ext += 1
            }
            if ext < external.count && external[ext].name.elementsEqual(name) { ext += 1 }
            ProtoWriter.label(&arena, name: name, value: value)
        }
        while ext < external.count {
            external[ext].name.withUnsafeBytes { n in
                external[ext].value.withUnsafeBytes { v in ProtoWriter.label(&arena, name: n, value: v) }
            }
            ext += 1
        }
        record(ref, from: start)
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
