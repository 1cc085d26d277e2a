import OutpostModel

/// Every series the WAL knows, by ref and by labels, in as little memory as the labels themselves
/// plus 24 bytes: the canonical label bytes of all series in one arena, an array of offsets
/// indexed by ref (refs are dense), and an open-addressing index of refs keyed by a hash of the
/// bytes. No allocation per series, no per-series object.
public struct SeriesTable: Sendable {
    private var arena: [UInt8] = []
    /// By ref (0 unused): where the labels start in `arena`, and their length (0: no such series).
    private var starts: [Int] = [0]
    private var lengths: [UInt32] = [0]
    /// Refs by hash slot; 0 is an empty slot. At most half full.
    private var index = [UInt32](repeating: 0, count: 1024)
    private(set) var count = 0

    /// One past the highest ref in use.
    var endRef: Int { starts.count }

    /// The ref of `labels`, if known.
    func ref(of labels: UnsafeRawBufferPointer) -> SeriesRef? {
        let mask = index.count - 1
        var slot = Int(truncatingIfNeeded: TableHash.hash(labels)) & mask
        while true {
            let r = Int(index[slot])
            if r == 0 { return nil }
            if Int(lengths[r]) == labels.count && bytesEqual(r, labels) { return SeriesRef(UInt64(r)) }
            slot = (slot + 1) & mask
        }
    }

    /// Adds `labels` under the next free ref.
    mutating func add(_ labels: UnsafeRawBufferPointer) -> SeriesRef {
        let ref = SeriesRef(UInt64(starts.count))
        insert(labels, ref: ref)
        return ref
    }

    /// Records `labels` under `ref` (replay: refs come from the segments and may have gaps). A ref
    /// already recorded is left as it is; refs beyond 32 bits are refused.
    mutating func insert(_ labels: UnsafeRawBufferPointer, ref: SeriesRef) {
        guard ref.rawValue > 0, ref.rawValue < UInt64(UInt32.max), !labels.isEmpty else { return }
        let r = Int(ref.rawValue)
        if r >= starts.count {
            starts.append(contentsOf: repeatElement(0, count: r + 1 - starts.count))
            lengths.append(contentsOf: repeatElement(0, count: r + 1 - lengths.count))
        }
        guard lengths[r] == 0 else { return }
        starts[r] = arena.count
        lengths[r] = UInt32(labels.count)
        arena.append(contentsOf: labels)
        count += 1
        if count * 2 > index.count { grow() } else { place(r, hash: TableHash.hash(labels)) }
    }

    /// Calls `body` with the labels of `ref`; false when the ref is unknown.
    @discardableResult
    public func withLabels(_ ref: SeriesRef, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        let r = Int(truncatingIfNeeded: ref.rawValue)
        guard ref.rawValue < UInt64(starts.count), lengths[r] > 0 else { return false }
        arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[starts[r]..<(starts[r] + Int(lengths[r]))])) }
        return true
    }

    private func bytesEqual(_ r: Int, _ labels: UnsafeRawBufferPointer) -> Bool {
        arena.withUnsafeBytes { a in
            guard let base = a.baseAddress, let other = labels.baseAddress else { return labels.isEmpty }
            return OutpostModel.bytesEqual(base + starts[r], other, count: labels.count)
        }
    }

    private mutating func place(_ r: Int, hash: UInt64) {
        let mask = index.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while index[slot] != 0 { slot = (slot + 1) & mask }
        index[slot] = UInt32(r)
    }

    private mutating func grow() {
        index = [UInt32](repeating: 0, count: index.count * 2)
        for r in 1..<starts.count where lengths[r] > 0 {
            let hash = arena.withUnsafeBytes { TableHash.hash(UnsafeRawBufferPointer(rebasing: $0[starts[r]..<(starts[r] + Int(lengths[r]))])) }
            place(r, hash: hash)
        }
    }
}
