import OutpostModel

/// Every series the WAL knows, by ref and by labels, in little more memory than the distinct
/// strings among them: each label name and value is stored once as a symbol, and a series is the
/// varint ids of its names and values. No allocation per series, no per-series object.
///
/// A symbol is kept as `uvarint(length) bytes`, the way the canonical label form spells a name or
/// value, so a series' canonical bytes are its symbols' bytes one after another: reading them back
/// is a copy per symbol, and comparing them with a label set is a comparison per symbol.
public struct SeriesTable: Sendable {
    /// Distinct names and values, one after another in id order, then ``strideSlack`` zero bytes
    /// so that any symbol can be copied in 16-byte strides.
    private var symbols = [UInt8](repeating: 0, count: strideSlack)
    /// Symbol `k` spans `symbolBounds[k]..<symbolBounds[k + 1]` of `symbols`.
    private var symbolBounds: [UInt32] = [0]
    /// Symbol ids + 1 by hash slot of their bytes; 0 is an empty slot. At most half full.
    private var symbolIndex = [UInt32](repeating: 0, count: 1024)
    /// Series, each `uvarint(canonical length) uvarint(symbol count) uvarint(id)…`.
    private var arena: [UInt8] = []
    /// By ref (0 unused): where the series starts in `arena`; ``none``: no such series.
    private var starts: [UInt32] = [none]
    private static let none = UInt32.max
    /// `symbols` and `arena` stay below this, so 32 bits locate anything in them.
    private static let byteLimit = Int(UInt32.max) - 1
    /// Refs by hash slot of the canonical bytes; 0 is an empty slot. At most half full.
    private var index = [UInt32](repeating: 0, count: 1024)
    private(set) var count = 0

    /// One past the highest ref in use.
    var endRef: Int { starts.count }

    /// How many distinct names and values the series share.
    var symbolCount: Int { symbolBounds.count - 1 }

    /// The ref of `labels`, if known.
    func ref(of labels: UnsafeRawBufferPointer) -> SeriesRef? {
        let mask = index.count - 1
        var slot = Int(truncatingIfNeeded: TableHash.hash(labels)) & mask
        while true {
            let r = Int(index[slot])
            if r == 0 { return nil }
            if matches(r, labels) { return SeriesRef(UInt64(r)) }
            slot = (slot + 1) & mask
        }
    }

    /// Adds `labels` under the next free ref; nil when the table is full (2³² series, or 4 GiB of
    /// distinct names and values or of symbol ids).
    mutating func add(_ labels: UnsafeRawBufferPointer) -> SeriesRef? {
        let ref = SeriesRef(UInt64(starts.count))
        return insert(labels, ref: ref) ? ref : nil
    }

    /// Records `labels` under `ref` (replay: refs come from the segments and may have gaps). A ref
    /// already recorded is left as it is. False when nothing was recorded: a ref beyond 32 bits,
    /// empty labels, or no room left.
    @discardableResult
    mutating func insert(_ labels: UnsafeRawBufferPointer, ref: SeriesRef) -> Bool {
        guard ref.rawValue > 0, ref.rawValue < UInt64(UInt32.max), !labels.isEmpty,
            symbols.count + labels.count < Self.byteLimit,
            arena.count + 20 + 5 * labels.count < Self.byteLimit  // an id per byte at most, 5 bytes each
        else { return false }
        let r = Int(ref.rawValue)
        if r >= starts.count { starts.append(contentsOf: repeatElement(Self.none, count: r + 1 - starts.count)) }
        guard starts[r] == Self.none else { return true }
        var symbolsInSeries: UInt64 = 0
        var i = 0
        while i < labels.count {
            i = Self.symbolEnd(labels, from: i)
            symbolsInSeries += 1
        }
        starts[r] = UInt32(arena.count)
        appendUVarint(&arena, UInt64(labels.count))
        appendUVarint(&arena, symbolsInSeries)
        i = 0
        while i < labels.count {
            let end = Self.symbolEnd(labels, from: i)
            appendUVarint(&arena, UInt64(intern(UnsafeRawBufferPointer(rebasing: labels[i..<end]))))
            i = end
        }
        count += 1
        if count * 2 > index.count { grow() } else { place(r, hash: TableHash.hash(labels)) }
        return true
    }

    /// Calls `body` with the canonical label bytes of `ref` (rebuilt on the stack for all but very
    /// long label sets); false when the ref is unknown.
    @discardableResult
    public func withLabels(_ ref: SeriesRef, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard let (length, ids) = header(ref) else { return false }
        withUnsafeTemporaryAllocation(byteCount: length + strideSlack, alignment: 1) { out in
            let filled = out.baseAddress.map { copyLabels(ids, to: $0, capacity: length) } ?? 0
            body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[..<filled]))
        }
        return true
    }

    /// Appends the canonical label bytes of `ref` to `out`; false (nothing appended) when the ref
    /// is unknown. For readers that gather many series' labels under the table's lock.
    public func appendLabels(_ ref: SeriesRef, to out: inout [UInt8]) -> Bool {
        guard let (length, ids) = header(ref) else { return false }
        let from = out.count
        out.append(contentsOf: repeatElement(0, count: length + strideSlack))
        let filled = out.withUnsafeMutableBytes { o in
            o.baseAddress.map { copyLabels(ids, to: $0 + from, capacity: length) } ?? 0
        }
        out.removeLast(length + strideSlack - filled)
        return true
    }

    /// The canonical length of `ref`'s labels and where its symbol count starts in `arena`.
    @inline(__always)
    private func header(_ ref: SeriesRef) -> (length: Int, ids: Int)? {
        let r = Int(truncatingIfNeeded: ref.rawValue)
        guard ref.rawValue < UInt64(starts.count), starts[r] != Self.none else { return nil }
        return arena.withUnsafeBytes { a in
            var i = Int(starts[r])
            guard let length = Self.uvarint(a, &i) else { return nil }
            return (length, i)
        }
    }

    /// Copies the symbols listed at `ids` of `arena` (a count, then that many ids) to `target`,
    /// which has room for `capacity` bytes and ``strideSlack`` more; how many bytes were copied.
    @inline(__always)
    private func copyLabels(_ ids: Int, to target: UnsafeMutableRawPointer, capacity: Int) -> Int {
        arena.withUnsafeBytes { a in
            symbols.withUnsafeBytes { s in
                symbolBounds.withUnsafeBufferPointer { bounds in
                    guard let source = s.baseAddress else { return 0 }
                    var i = ids
                    var filled = 0
                    guard let n = Self.uvarint(a, &i) else { return 0 }
                    for _ in 0..<n {
                        guard let id = Self.uvarint(a, &i), id + 1 < bounds.count else { break }
                        let start = Int(bounds[id])
                        let size = Int(bounds[id + 1]) - start
                        guard filled + size <= capacity else { break }
                        copyInStrides(target + filled, source + start, count: size)
                        filled += size
                    }
                    return filled
                }
            }
        }
    }

    /// Reads a varint of the table's own encoding at `i` of `arena`'s bytes, advancing `i`.
    @inline(__always)
    private static func uvarint(_ a: UnsafeRawBufferPointer, _ i: inout Int) -> Int? {
        var reader = ByteReader(a, offset: i)
        guard let value = reader.uvarint(), value < UInt64(Int.max) else { return nil }
        i = reader.offset
        return Int(value)
    }

    /// Where the symbol starting at `i` of canonical `labels` ends: after its varint length and
    /// that many bytes. Bytes that do not parse so are one symbol to the end, kept as they are.
    private static func symbolEnd(_ labels: UnsafeRawBufferPointer, from i: Int) -> Int {
        var reader = ByteReader(labels, offset: i)
        guard let length = reader.uvarint(), length <= UInt64(labels.count - reader.offset) else { return labels.count }
        return reader.offset + Int(length)
    }

    /// The id of `symbol`, added if new.
    private mutating func intern(_ symbol: UnsafeRawBufferPointer) -> Int {
        var mask = symbolIndex.count - 1
        var slot = Int(truncatingIfNeeded: TableHash.hash(symbol)) & mask
        while true {
            let id = Int(symbolIndex[slot]) - 1
            if id < 0 { break }
            if symbolEquals(id, symbol) { return id }
            slot = (slot + 1) & mask
        }
        let id = symbolBounds.count - 1
        symbols.removeLast(strideSlack)
        symbols.append(contentsOf: symbol)
        symbolBounds.append(UInt32(symbols.count))
        symbols.append(contentsOf: repeatElement(0, count: strideSlack))
        if (id + 1) * 2 > symbolIndex.count {
            symbolIndex = [UInt32](repeating: 0, count: symbolIndex.count * 2)
            mask = symbolIndex.count - 1
            symbols.withUnsafeBytes { s in
                for k in 0...id {
                    let bytes = UnsafeRawBufferPointer(rebasing: s[Int(symbolBounds[k])..<Int(symbolBounds[k + 1])])
                    var free = Int(truncatingIfNeeded: TableHash.hash(bytes)) & mask
                    while symbolIndex[free] != 0 { free = (free + 1) & mask }
                    symbolIndex[free] = UInt32(k + 1)
                }
            }
        } else {
            symbolIndex[slot] = UInt32(id + 1)
        }
        return id
    }

    private func symbolEquals(_ id: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let start = Int(symbolBounds[id])
        guard Int(symbolBounds[id + 1]) - start == bytes.count else { return false }
        return symbols.withUnsafeBytes { s in
            guard let base = s.baseAddress, let other = bytes.baseAddress else { return bytes.isEmpty }
            return bytesEqual(base + start, other, count: bytes.count)
        }
    }

    /// Whether series `r` has the canonical bytes `labels`, compared symbol by symbol.
    private func matches(_ r: Int, _ labels: UnsafeRawBufferPointer) -> Bool {
        arena.withUnsafeBytes { a in
            var i = Int(starts[r])
            guard let length = Self.uvarint(a, &i), length == labels.count, let n = Self.uvarint(a, &i),
                let other = labels.baseAddress
            else { return false }
            return symbols.withUnsafeBytes { s in
                guard let base = s.baseAddress else { return false }
                var offset = 0
                for _ in 0..<n {
                    guard let id = Self.uvarint(a, &i), id + 1 < symbolBounds.count else { return false }
                    let start = Int(symbolBounds[id])
                    let size = Int(symbolBounds[id + 1]) - start
                    guard offset + size <= labels.count, bytesEqual(base + start, other + offset, count: size) else {
                        return false
                    }
                    offset += size
                }
                return offset == labels.count
            }
        }
    }

    private mutating func place(_ r: Int, hash: UInt64) {
        let mask = index.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while index[slot] != 0 { slot = (slot + 1) & mask }
        index[slot] = UInt32(r)
    }

    private mutating func grow() {
        var bigger = [UInt32](repeating: 0, count: index.count * 2)
        let mask = bigger.count - 1
        for r in 1..<starts.count where starts[r] != Self.none {
            withLabels(SeriesRef(UInt64(r))) { labels in
                var slot = Int(truncatingIfNeeded: TableHash.hash(labels)) & mask
                while bigger[slot] != 0 { slot = (slot + 1) & mask }
                bigger[slot] = UInt32(r)
            }
        }
        index = bigger
    }
}
