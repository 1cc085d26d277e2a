/// Reads label pairs and quoted names that a parser already validated, unescaping them.
/// Runs only on scrape-cache misses, so it may allocate.
public enum LabelPairs {
    /// Calls `visit` with each label name and unescaped value of `range` (the inside of a label
    /// set), in exposition order. Names may be plain or quoted; a quoted metric name is skipped.
    public static func forEach(
        in body: UnsafeRawBufferPointer,
        range: Range<Int>,
        _ visit: ([UInt8], [UInt8]) -> Void
    ) {
        var pairs = RawLabelPairs(body, range)
        while let (name, value) = pairs.next() { visit(unescaped(body, name), unescaped(body, value)) }
    }

    /// The bytes of `range` with `\\`, `\"` and `\n` standing for one byte each.
    private static func unescaped(_ body: UnsafeRawBufferPointer, _ range: Range<Int>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        while i < range.upperBound {
            if body[i] == UInt8(ascii: "\\"), i + 1 < range.upperBound {
                appendEscape(body[i + 1], to: &out)
                i += 2
            } else {
                out.append(body[i])
                i += 1
            }
        }
        return out
    }

    /// The metric name of a sample line, unescaped when it was quoted.
    public static func metricName(in body: UnsafeRawBufferPointer, _ sample: ExpositionSample) -> [UInt8] {
        sample.nameQuoted ? unescaped(body, sample.name) : Array(body[sample.name])
    }

    /// `\\`, `\"` and `\n` stand for one byte; any other escape is kept as written, as Prometheus
    /// keeps it.
    private static func appendEscape(_ e: UInt8, to out: inout [UInt8]) {
        switch e {
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
        default:
            out.append(UInt8(ascii: "\\"))
            out.append(e)
        }
    }
}

/// Walks the label pairs of a label set that a parser already validated, as raw byte ranges
/// (escapes left as written), without allocating: ``LabelPairs`` unescapes what it finds, and the
/// scrape loop compares label sets of one body with it.
public struct RawLabelPairs {
    private let body: UnsafeRawBufferPointer
    private var i: Int
    private let end: Int

    public init(_ body: UnsafeRawBufferPointer, _ range: Range<Int>) {
        self.body = body
        i = range.lowerBound
        end = range.upperBound
    }

    /// The next pair's name and value (inside their quotes when quoted); a quoted metric name in
    /// the set is passed over.
    public mutating func next() -> (name: Range<Int>, value: Range<Int>)? {
        while i < end {
            // Blanks (the text format allows them) and the comma before a pair.
            while i < end, body[i] == UInt8(ascii: " ") || body[i] == UInt8(ascii: "\t") || body[i] == 0x0D
                || body[i] == UInt8(ascii: ",")
            {
                i += 1
            }
            guard i < end else { return nil }
            let name: Range<Int>
            if body[i] == UInt8(ascii: "\"") {
                name = quoted()
                while i < end, body[i] == UInt8(ascii: " ") || body[i] == UInt8(ascii: "\t") { i += 1 }
                if i >= end || body[i] != UInt8(ascii: "=") { continue }  // the metric name
            } else {
                let start = i
                while i < end, isNameChar(body[i]) { i += 1 }
                name = start..<i
            }
            while i < end, body[i] != UInt8(ascii: "\"") { i += 1 }
            guard i < end else { return nil }
            return (name, quoted())
        }
        return nil
    }

    /// At an opening quote: the range inside the quotes; leaves `i` after the closing one.
    private mutating func quoted() -> Range<Int> {
        i += 1
        let start = i
        while i < end, body[i] != UInt8(ascii: "\"") { i += body[i] == UInt8(ascii: "\\") ? 2 : 1 }
        let inside = start..<min(i, end)
        i += 1
        return inside
    }
}
