import OutpostModel

/// Maps the raw bytes of a series line (name and label set, exactly as exposed) to its series ref,
/// so a series seen before costs one hash and one memcmp: no label parsing, no allocation.
///
/// Keys live in one byte arena; the index is open addressing with linear probing over entry
/// numbers. Each entry (24 bytes) remembers the last scrape that saw it, which gives staleness and
/// duplicate detection for free.
struct SeriesCache {
    struct Entry {
        var ref: SeriesRef
        /// The high half of the key's hash, to skip most unequal keys without a memcmp.
        var hashHigh: UInt32
        var keyStart: UInt32
        var keyLength: UInt32
        var lastSeen: UInt32
    }

    /// The ref of a series that metric relabeling dropped: cached so it is not relabeled again.
    /// The WAL hands out refs from 1.
    static let dropped = SeriesRef(0)

    private(set) var entries: [Entry] = []
    private var arena: [UInt8] = []
    private var index: [Int32] = Array(repeating: -1, count: 1024)
    /// The newest explicit timestamp appended, for the few series that carry their own.
    private var explicitTimestamps: [Int32: Int64] = [:]
    /// The start (`_created`) time last reported, for the series whose target exposes one.
    private var startTimestamps: [Int32: Int64] = [:]

    var count: Int { entries.count }

    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 { TableHash.hash(key) }

    /// The entry number for `key`, or nil.
    func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        let mask = index.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        let high = UInt32(truncatingIfNeeded: hash >> 32)
        while true {
            let e = Int(index[slot])
            if e < 0 { return nil }
            let entry = entries[e]
            if entry.hashHigh == high && Int(entry.keyLength) == key.count {
                let equal = arena.withUnsafeBytes { a in
                    key.count == 0 || bytesEqual(a.baseAddress! + Int(entry.keyStart), key.baseAddress!, count: key.count)
                }
                if equal { return e }
            }
            slot = (slot + 1) & mask
        }
    }

    /// Adds `key` → `ref`; the key must not be present. Nil when the keys would pass 4 GiB (offsets
    /// are 32-bit), which no real target comes near.
    @discardableResult
    mutating func insert(_ key: UnsafeRawBufferPointer, hash: UInt64, ref: SeriesRef, seen: UInt32) -> Int? {
        guard arena.count + key.count < Int(UInt32.max) else { return nil }
        if (entries.count + 1) * 2 > index.count { grow() }
        let e = entries.count
        entries.append(
            Entry(
                ref: ref, hashHigh: UInt32(truncatingIfNeeded: hash >> 32), keyStart: UInt32(arena.count),
                keyLength: UInt32(key.count), lastSeen: seen))
        arena.append(contentsOf: key)
        place(e, hash: hash)
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
        let oldArena = arena
        let oldTimestamps = explicitTimestamps
        let oldStarts = startTimestamps
        entries.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
        explicitTimestamps.removeAll()
        startTimestamps.removeAll()
        index = Array(repeating: -1, count: index.count)
        for (i, entry) in old.enumerated() where entry.lastSeen >= oldest {
            oldArena.withUnsafeBytes { a in
                let start = Int(entry.keyStart)
                let key = UnsafeRawBufferPointer(rebasing: a[start..<(start + Int(entry.keyLength))])
                // Every kept key fitted before, so it fits again.
                if let e = insert(key, hash: Self.hash(key), ref: entry.ref, seen: entry.lastSeen) {
                    explicitTimestamps[Int32(e)] = oldTimestamps[Int32(i)]
                    startTimestamps[Int32(e)] = oldStarts[Int32(i)]
                }
            }
        }
    }

    private mutating func grow() {
        index = Array(repeating: -1, count: index.count * 2)
        arena.withUnsafeBytes { a in
            for e in entries.indices {
                let start = Int(entries[e].keyStart)
                placeIn(&index, e, hash: Self.hash(UnsafeRawBufferPointer(rebasing: a[start..<(start + Int(entries[e].keyLength))])))
            }
        }
    }

    private mutating func place(_ e: Int, hash: UInt64) { placeIn(&index, e, hash: hash) }
}

private func placeIn(_ index: inout [Int32], _ e: Int, hash: UInt64) {
    let mask = index.count - 1
    var slot = Int(truncatingIfNeeded: hash) & mask
    while index[slot] >= 0 { slot = (slot + 1) & mask }
    index[slot] = Int32(e)
}
