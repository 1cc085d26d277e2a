import OutpostModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Maps the raw bytes of a series line (name and label set, exactly as exposed) to its series ref,
/// so a series seen before costs one hash and one memcmp: no label parsing, no allocation.
///
/// Keys live in one byte arena; the index is open addressing with linear probing over entry
/// numbers. Each entry remembers the last scrape that saw it, which gives staleness and duplicate
/// detection for free.
struct SeriesCache {
    struct Entry {
        var hash: UInt64
        var keyStart: Int
        var keyLength: Int
        var ref: SeriesRef
        var lastSeen: UInt32
        /// The newest explicit timestamp appended for the series, for out-of-order detection.
        var lastTimestamp: Int64 = .min
    }

    /// The ref of a series that metric relabeling dropped: cached so it is not relabeled again.
    /// The WAL hands out refs from 1.
    static let dropped = SeriesRef(0)

    var entries: [Entry] = []
    private var arena: [UInt8] = []
    private var index: [Int32] = Array(repeating: -1, count: 1024)

    var count: Int { entries.count }

    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 { TableHash.hash(key) }

    /// The entry number for `key`, or nil.
    func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        let mask = index.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let e = Int(index[slot])
            if e < 0 { return nil }
            let entry = entries[e]
            if entry.hash == hash && entry.keyLength == key.count {
                let equal = arena.withUnsafeBytes { a in
                    key.count == 0 || memcmpBytes(a.baseAddress! + entry.keyStart, key.baseAddress!, key.count)
                }
                if equal { return e }
            }
            slot = (slot + 1) & mask
        }
    }

    /// Adds `key` → `ref`; the key must not be present.
    @discardableResult
    mutating func insert(
        _ key: UnsafeRawBufferPointer, hash: UInt64, ref: SeriesRef, seen: UInt32, lastTimestamp: Int64 = .min
    ) -> Int {
        if (entries.count + 1) * 2 > index.count { grow() }
        let e = entries.count
        entries.append(
            Entry(
                hash: hash, keyStart: arena.count, keyLength: key.count, ref: ref, lastSeen: seen,
                lastTimestamp: lastTimestamp))
        arena.append(contentsOf: key)
        place(e, hash: hash)
        return e
    }

    mutating func markSeen(_ e: Int, _ iteration: UInt32) { entries[e].lastSeen = iteration }

    /// Drops entries not seen since `oldest`, returning the new number of each kept entry.
    mutating func compact(keepingSeenSince oldest: UInt32) {
        let old = entries
        let oldArena = arena
        entries.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
        index = Array(repeating: -1, count: index.count)
        for entry in old where entry.lastSeen >= oldest {
            oldArena.withUnsafeBytes { a in
                let key = UnsafeRawBufferPointer(rebasing: a[entry.keyStart..<(entry.keyStart + entry.keyLength)])
                insert(key, hash: entry.hash, ref: entry.ref, seen: entry.lastSeen, lastTimestamp: entry.lastTimestamp)
            }
        }
    }

    private mutating func grow() {
        index = Array(repeating: -1, count: index.count * 2)
        for e in entries.indices { place(e, hash: entries[e].hash) }
    }

    private mutating func place(_ e: Int, hash: UInt64) {
        let mask = index.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while index[slot] >= 0 { slot = (slot + 1) & mask }
        index[slot] = Int32(e)
    }
}

@inline(__always)
func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    memcmp(a, b, n) == 0
}
