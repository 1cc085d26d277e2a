#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether `count` bytes at `a` and `b` are equal (memcmp; the hash tables' key check).
@inlinable
public func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Bool {
    memcmp(a, b, count) == 0
}

/// How many bytes past its end a buffer must have for ``copyInStrides(_:_:count:)``. A constant
/// the compiler folds in, not a global (whose lazy initialisation is checked at every use).
@inlinable public var strideSlack: Int { 16 }

/// Copies `count` bytes from `source` to `target` 16 at a time, so that copying a short label name
/// or value is a load and a store rather than a call: it reads and writes up to 15 bytes past
/// `count`, which both buffers must have (``strideSlack``); the writer overwrites the excess next.
@inlinable @inline(__always)
public func copyInStrides(_ target: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, count: Int) {
    var k = 0
    while k < count {
        target.storeBytes(
            of: source.loadUnaligned(fromByteOffset: k, as: SIMD16<UInt8>.self), toByteOffset: k, as: SIMD16<UInt8>.self)
        k += 16
    }
}
