/// Appends `value` as an unsigned LEB128 varint (the protobuf and Go `binary.PutUvarint` form).
@inlinable
public func appendUVarint(_ out: inout [UInt8], _ value: UInt64) {
    var v = value
    while v >= 0x80 {
        out.append(UInt8(truncatingIfNeeded: v) | 0x80)
        v >>= 7
    }
    out.append(UInt8(v))
}

/// Appends `value` zig-zag encoded, so small negative deltas stay short.
@inlinable
public func appendVarint(_ out: inout [UInt8], _ value: Int64) {
    appendUVarint(&out, UInt64(bitPattern: (value << 1) ^ (value >> 63)))
}

/// Appends `value` as 8 little-endian bytes.
@inlinable
public func appendUInt64LE(_ out: inout [UInt8], _ value: UInt64) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

/// Appends `value` as 4 little-endian bytes.
@inlinable
public func appendUInt32LE(_ out: inout [UInt8], _ value: UInt32) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

/// A forward-only cursor over bytes that decodes the encodings above. Every read is bounds-checked
/// and returns nil on truncated input, so corrupt data can never trap.
public struct ByteReader {
    public let base: UnsafeRawBufferPointer
    public var offset: Int

    @inlinable
    public init(_ base: UnsafeRawBufferPointer, offset: Int = 0) {
        self.base = base
        self.offset = offset
    }

    @inlinable
    public var isAtEnd: Bool { offset >= base.count }

    @inlinable
    public mutating func uvarint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < base.count {
            let byte = base[offset]
            offset += 1
            if shift == 63 && byte > 1 { return nil }
            result |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    @inlinable
    public mutating func varint() -> Int64? {
        guard let u = uvarint() else { return nil }
        return Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1)
    }

    @inlinable
    public mutating func uint64LE() -> UInt64? {
        guard base.count - offset >= 8 else { return nil }
        let v = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset += 8
        return UInt64(littleEndian: v)
    }

    @inlinable
    public mutating func uint32LE() -> UInt32? {
        guard base.count - offset >= 4 else { return nil }
        let v = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        offset += 4
        return UInt32(littleEndian: v)
    }

    @inlinable
    public mutating func byte() -> UInt8? {
        guard offset < base.count else { return nil }
        defer { offset += 1 }
        return base[offset]
    }

    /// Reads a uvarint length and that many bytes.
    @inlinable
    public mutating func lengthPrefixed() -> UnsafeRawBufferPointer? {
        guard let n = uvarint(), n <= UInt64(base.count - offset) else { return nil }
        let start = offset
        offset += Int(n)
        return UnsafeRawBufferPointer(rebasing: base[start..<offset])
    }
}
