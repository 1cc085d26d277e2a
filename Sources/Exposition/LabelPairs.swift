/// Reads the label pairs of a label set that ``TextParser`` already validated, unescaping values.
/// Runs only on scrape-cache misses.
public enum LabelPairs {
    /// Calls `body` with each label name and unescaped value, in exposition order.
    public static func forEach(
        in body: UnsafeRawBufferPointer,
        range: Range<Int>,
        _ visit: ([UInt8], [UInt8]) -> Void
    ) {
        var i = range.lowerBound
        let end = range.upperBound
        func skipBlanks() {
            while i < end, body[i] == UInt8(ascii: " ") || body[i] == UInt8(ascii: "\t") { i += 1 }
        }
        while i < end {
            skipBlanks()
            guard i < end else { return }
            let nameStart = i
            while i < end, isNameChar(body[i]) { i += 1 }
            let name = Array(body[nameStart..<i])
            while i < end, body[i] != UInt8(ascii: "\"") { i += 1 }
            i += 1
            var value: [UInt8] = []
            while i < end, body[i] != UInt8(ascii: "\"") {
                var b = body[i]
                if b == UInt8(ascii: "\\"), i + 1 < end {
                    i += 1
                    switch body[i] {
                    case UInt8(ascii: "n"): b = UInt8(ascii: "\n")
                    case UInt8(ascii: "\\"): b = UInt8(ascii: "\\")
                    case UInt8(ascii: "\""): b = UInt8(ascii: "\"")
                    default:
                        value.append(UInt8(ascii: "\\"))
                        b = body[i]
                    }
                }
                value.append(b)
                i += 1
            }
            i += 1
            visit(name, value)
            skipBlanks()
            if i < end, body[i] == UInt8(ascii: ",") { i += 1 }
        }
    }
}
