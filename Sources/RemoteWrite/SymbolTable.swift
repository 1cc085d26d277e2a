import OutpostModel

/// Every label name and value (and help and unit text) an endpoint has seen, each stored once and
/// numbered densely from 0 (the empty string). Remote-write 2.0 requests carry a symbol table of
/// their own; series keep these global numbers, and each request maps the ones it uses to its
/// own table through an array, with no hashing per request.
struct SymbolTable {
    private var arena: [UInt8] = []
    private var starts: [UInt32] = [0]
    private var lengths: [UInt32] = [0]
    /// Open addressing: slot → id + 1 (0: empty).
    private var slots: [UInt32] = Array(repeating: 0, count: 1024)
    private var hashes: [UInt64] = [TableHash.hash(UnsafeRawBufferPointer(start: nil, count: 0))]

    /// How many symbols there are (ids are below this).
    var count: Int { starts.count }

    init() {
        insertSlot(id: 0, hash: hashes[0])
    }

    /// The id of `bytes`, adding it when new.
    mutating func intern(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let h = TableHash.hash(bytes)
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i] != 0 {
            let id = Int(slots[i] - 1)
            if hashes[id] == h && Int(lengths[id]) == bytes.count {
                let start = Int(starts[id])
                let equal = arena.withUnsafeBytes { a in
                    guard let x = a.baseAddress, let y = bytes.baseAddress else { return bytes.isEmpty }
                    return bytesEqual(x + start, y, count: bytes.count)
                }
                if equal { return UInt32(id) }
            }
            i = (i + 1) & mask
        }
        let id = UInt32(starts.count)
        starts.append(UInt32(truncatingIfNeeded: arena.count))
        lengths.append(UInt32(bytes.count))
        arena.append(contentsOf: bytes)
        hashes.append(h)
        if starts.count * 2 > slots.count {
            slots = Array(repeating: 0, count: slots.count * 2)
            for k in 0..<starts.count { insertSlot(id: k, hash: hashes[k]) }
        } else {
            slots[i] = id + 1
        }
        return id
    }

    mutating func intern(_ string: String) -> UInt32 {
        var s = string
        return s.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
    }

    private mutating func insertSlot(id: Int, hash: UInt64) {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = UInt32(id + 1)
    }

    func length(_ id: UInt32) -> Int { Int(lengths[Int(id)]) }

    func withBytes<R>(_ id: UInt32, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let s = Int(starts[Int(id)])
        let n = Int(lengths[Int(id)])
        return arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[s..<(s + n)])) }
    }
}
