import OutpostModel

/// Maps a series line (name and label set, exactly as exposed) to its series ref, so a series
/// seen before costs one hash and a 16-byte comparison: no label parsing, no allocation.
///
/// The cache keeps a 128-bit hash of each line instead of its bytes (24 bytes an entry where the
/// bytes average 70 on node_exporter). Two different lines sharing the hash would share a
/// series; for a target of a million series the chance that any two do is about 10⁻²⁷, and a
/// cache serves one target, whose own body is its only input. The index is open addressing with
/// linear probing over entry numbers, at most three quarters full. Each entry remembers the last
/// scrape that saw it, which gives staleness and duplicate detection for free.
struct SeriesCache {
    struct Key: Equatable {
        var low: UInt64
        var high: UInt64
    }

    struct Entry {
        var key: Key
        /// WAL refs fit in 32 bits (its series table refuses larger ones).
        var ref32: UInt32
        var lastSeen: UInt32
        var ref: SeriesRef { SeriesRef(UInt64(ref32)) }
    }

    /// The ref of a series that metric relabeling dropped: cached so it is not relabeled again.
    /// The WAL hands out refs from 1.
    static let dropped = SeriesRef(0)

    private(set) var entries: [Entry] = []
    private var index: [Int32] = Array(repeating: -1, count: 1024)
    /// The newest explicit timestamp appended, for the few series that carry their own.
    private var explicitTimestamps: [Int32: Int64] = [:]
    /// The start (`_created`) time last reported, for the series whose target exposes one.
    private var startTimestamps: [Int32: Int64] = [:]

    var count: Int { entries.count }

    static func key(_ line: UnsafeRawBufferPointer) -> Key {
        let h = TableHash.hash128(line)
        return Key(low: h.low, high: h.high)
    }

    /// The entry number for `key`, or nil.
    func find(_ key: Key) -> Int? {
        let mask = index.count - 1
        var slot = Int(truncatingIfNeeded: key.low) & mask
        while true {
            let e = Int(index[slot])
            if e < 0 { return nil }
            if entries[e].key == key { return e }
            slot = (slot + 1) & mask
        }
    }

    /// Adds `key` → `ref`; the key must not be present. Nil for a ref beyond 32 bits, which the WAL
    /// does not hand out.
    @discardableResult
    mutating func insert(_ key: Key, ref: SeriesRef, seen: UInt32) -> Int? {
        guard ref.rawValue <= UInt64(UInt32.max) else { return nil }
        if (entries.count + 1) * 4 > index.count * 3 { grow() }
        let e = entries.count
        entries.append(Entry(key: key, ref32: UInt32(ref.rawValue), lastSeen: seen))
        placeIn(&index, e, key)
        return e
    }

    mutating func markSeen(_ e: Int, _ iteration: UInt32) { entries[e].lastSeen = iteration }

    /// The newest explicit timestamp appended for entry `e` (`Int64.min`: none yet).
    func lastTimestamp(_ e: Int) -> Int64 { explicitTimestamps[Int32(e)] ?? .min }

    mutating func setLastTimestamp(_ e: Int, _ ts: Int64) { explicitTimestamps[Int32(e)] = ts }

    /// The start time last reported for entry `e` (0: none).
    func startTimestamp(_ e: Int) -> Int64 { startTimestamps[Int32(e)] ?? 0 }

    mutating func setStartTimestamp(_ e: Int, _ ts: Int64) { startTimestamps[Int32(e)] = ts }

    mutating func forgetStartTimestamps() { startTimestamps.removeAll() }

    /// Drops entries not seen since `oldest`.
    mutating func compact(keepingSeenSince oldest: UInt32) {
        let old = entries
        let oldTimestamps = explicitTimestamps
        let oldStarts = startTimestamps
        entries.removeAll(keepingCapacity: true)
        explicitTimestamps.removeAll()
        startTimestamps.removeAll()
        index = Array(repeating: -1, count: index.count)
        for (i, entry) in old.enumerated() where entry.lastSeen >= oldest {
            let e = entries.count
            entries.append(entry)
            placeIn(&index, e, entry.key)
            explicitTimestamps[Int32(e)] = oldTimestamps[Int32(i)]
            startTimestamps[Int32(e)] = oldStarts[Int32(i)]
        }
    }

    /// Gives back the spare room of `entries` after a scrape added series: an array grows by
    /// doubling, which would leave up to half of a target's entries allocated and unused for good.
    mutating func trim() {
        let n = entries.count
        guard entries.capacity > n + n / 8 + 64 else { return }
        entries = entries.withUnsafeBufferPointer { old in
            [Entry](unsafeUninitializedCapacity: n) { buffer, initialized in
                _ = buffer.initialize(fromContentsOf: old)
                initialized = n
            }
        }
    }

    private mutating func grow() {
        index = Array(repeating: -1, count: index.count * 2)
        for e in entries.indices { placeIn(&index, e, entries[e].key) }
    }
}

private func placeIn(_ index: inout [Int32], _ e: Int, _ key: SeriesCache.Key) {
    let mask = index.count - 1
    var slot = Int(truncatingIfNeeded: key.low) & mask
    while index[slot] >= 0 { slot = (slot + 1) & mask }
    index[slot] = Int32(e)
}
