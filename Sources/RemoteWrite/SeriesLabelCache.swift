import OutpostModel
import Relabel

/// Each series' labels as ready-to-send protobuf `Label` messages, external labels merged and
/// `write_relabel_configs` applied (in that order, as Prometheus does): built once per series when
/// its WAL series record is read, then copied as one block per send.
struct SeriesLabelCache {
    private var arena: [UInt8] = []
    private var spans: [SeriesRef: Range<Int>] = [:]
    private var droppedRefs: Set<SeriesRef> = []
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

    var count: Int { spans.count }

    /// Whether `ref` has labels to send.
    func isKnown(_ ref: SeriesRef) -> Bool { spans[ref] != nil }

    /// Whether write relabeling dropped `ref`.
    func isDropped(_ ref: SeriesRef) -> Bool { droppedRefs.contains(ref) }

    /// Records `labels` for `ref`; a ref already known keeps its first encoding (series records repeat
    /// at the start of every segment with the same labels).
    mutating func add(_ ref: SeriesRef, _ labels: Labels) {
        guard spans[ref] == nil, !droppedRefs.contains(ref) else { return }
        if !writeRelabel.isEmpty {
            var b = LabelsBuilder(labels)
            externalLabels.forEach { n, v in
                let name = Array(n)
                if !b.has(name) { b.set(name, Array(v)) }
            }
            guard Relabeler.process(&b, writeRelabel) else {
                droppedRefs.insert(ref)
                return
            }
            let start = arena.count
            b.labels().forEach { name, value in ProtoWriter.label(&arena, name: name, value: value) }
            spans[ref] = start..<arena.count
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
        spans[ref] = start..<arena.count
    }

    /// Calls `body` with the encoded labels of `ref`, or returns false if the series is unknown.
    func withLabels(_ ref: SeriesRef, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard let span = spans[ref] else { return false }
        arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[span])) }
        return true
    }
}
