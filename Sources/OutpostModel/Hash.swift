/// 64-bit FNV-1a, used for scrape offsets, cursor file names and scrape-cache buckets.
public struct FNV1a64: Sendable {
    public var value: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}
    @inlinable
    public mutating func combine(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for b in bytes {
            h ^= UInt64(b)
            h &*= 0x0000_0100_0000_01b3
        }
        value = h
    }
    public mutating func combine(_ string: String) {
        var s = string
        s.withUTF8 { combine(UnsafeRawBufferPointer($0)) }
    }
    /// Hash of one string.
    public static func hash(_ string: String) -> UInt64 {
        var h = FNV1a64()
        h.combine(string)
        return h.value
    }
}

/// A fast 64-bit hash for in-memory tables only (never persisted: it may change between
/// versions). Reads 16 bytes per step and mixes with a full-width multiply folded to 64 bits, as
/// wyhash does — several times faster than byte-at-a-time FNV on long series keys.
public enum TableHash {
    @usableFromInline static let p0: UInt64 = 0xa076_1d64_78bd_642f
    @usableFromInline static let p1: UInt64 = 0xe703_7ed1_a0b4_28db

    @inlinable @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (hi, lo) = a.multipliedFullWidth(by: b)
        return hi ^ lo
    }

    /// Calls `body` with the pairs of 64-bit words the hashes absorb: each 16-byte block of
    /// non-empty `bytes`, then one pair for the tail (the last 8 bytes and the 8 before them,
    /// overlapping, or the few bytes left and their count; zeros when nothing is left).
    @inlinable @inline(__always)
    static func words(_ bytes: UnsafeRawBufferPointer, _ body: (UInt64, UInt64) -> Void) {
        guard let base = bytes.baseAddress else { return }
        let n = bytes.count
        var i = 0
        while i + 16 <= n {
            body(
                base.loadUnaligned(fromByteOffset: i, as: UInt64.self),
                base.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self))
            i += 16
        }
        var a: UInt64 = 0
        var b: UInt64 = 0
        let rest = n - i
        if rest >= 8 {
            a = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            b = base.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        } else if rest > 0 {
            for k in 0..<rest { a |= UInt64(base.load(fromByteOffset: i + k, as: UInt8.self)) << (8 * UInt64(k)) }
            b = UInt64(truncatingIfNeeded: rest)
        }
        body(a, b)
    }

    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let n = UInt64(truncatingIfNeeded: bytes.count)
        var h = p0 ^ n
        guard !bytes.isEmpty else { return mix(h, p1) }
        words(bytes) { a, b in h = mix(a ^ p1, b ^ h) }
        return mix(h ^ p0, p1 ^ n)
    }

    @usableFromInline static let m: UInt64 = 0xc6a4_a793_5bd1_e995

    /// A second lane for ``hash128(_:)``: each step is a bijection of the state for a given word
    /// (multiply by an odd constant, xor-shift), so no word can erase the words before it and two
    /// keys of one length that differ in a single word never collide.
    @inlinable @inline(__always)
    static func absorb(_ h: UInt64, _ word: UInt64) -> UInt64 {
        var k = word &* m
        k ^= k >> 47
        k &*= m
        return (h ^ k) &* m
    }

    /// 128 bits of `bytes`, for tables that keep a key's hash instead of the key: the first half
    /// is ``hash(_:)``, the second an independent function of the same 64-bit words. Two different
    /// keys share both halves with a probability near 2⁻¹²⁸.
    @inlinable
    public static func hash128(_ bytes: UnsafeRawBufferPointer) -> (low: UInt64, high: UInt64) {
        let n = UInt64(truncatingIfNeeded: bytes.count)
        var h = p0 ^ n
        var g = p1 ^ (n &* m)
        guard !bytes.isEmpty else { return (mix(h, p1), absorb(g, 0)) }
        words(bytes) { a, b in
            h = mix(a ^ p1, b ^ h)
            g = absorb(absorb(g, a), b)
        }
        g ^= g >> 47
        g &*= m
        g ^= g >> 47
        return (mix(h ^ p0, p1 ^ n), g)
    }
}
