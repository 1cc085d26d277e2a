import CSnappy

/// Snappy block compression (the remote-write body format) through libsnappy, into a reused buffer.
public enum Snappy {
    /// Compresses `input` into `output`, replacing its contents.
    public static func compress(_ input: [UInt8], into output: inout [UInt8]) {
        let bound = snappy_max_compressed_length(input.count)
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        var length = output.count
        let status = input.withUnsafeBytes { inp in
            output.withUnsafeMutableBytes { out in
                snappy_compress(
                    inp.baseAddress?.assumingMemoryBound(to: CChar.self), inp.count,
                    out.baseAddress?.assumingMemoryBound(to: CChar.self), &length)
            }
        }
        precondition(status == SNAPPY_OK, "snappy_compress cannot fail with a buffer of the maximum length")
        output.removeLast(output.count - length)
    }

    /// Decompresses a snappy block; nil if it is not valid. Used by tests and diagnostics.
    public static func decompress(_ input: [UInt8]) -> [UInt8]? {
        var length = 0
        let ok = input.withUnsafeBytes { inp in
            snappy_uncompressed_length(inp.baseAddress?.assumingMemoryBound(to: CChar.self), inp.count, &length)
        }
        guard ok == SNAPPY_OK else { return nil }
        var out = [UInt8](repeating: 0, count: length)
        let status = input.withUnsafeBytes { inp in
            out.withUnsafeMutableBytes { o in
                snappy_uncompress(
                    inp.baseAddress?.assumingMemoryBound(to: CChar.self), inp.count,
                    o.baseAddress?.assumingMemoryBound(to: CChar.self), &length)
            }
        }
        return status == SNAPPY_OK ? Array(out.prefix(length)) : nil
    }
}
