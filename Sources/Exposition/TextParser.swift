#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A parse error in a scrape body: the 1-based line and what was expected there.
public struct ExpositionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
    public var description: String { "line \(line): \(message)" }
}

/// One sample line of an exposition body, as byte ranges into the body plus the parsed numbers.
///
/// `series` spans the metric name through the closing brace of the label set: identical series
/// lines have identical `series` bytes, which is what the scrape cache keys on.
public struct ExpositionSample: Sendable {
    public var series: Range<Int> = 0..<0
    public var name: Range<Int> = 0..<0
    /// Between the braces, exclusive; empty when the line has no label set.
    public var labels: Range<Int> = 0..<0
    public var value: Double = 0
    /// Milliseconds, when the line carries a timestamp.
    public var timestamp: Int64? = nil
    public init() {}
}

/// A byte-level parser for the Prometheus text exposition format 0.0.4.
///
/// It walks the body once, never copies it and allocates nothing per line: each call to
/// ``next(_:)`` fills an ``ExpositionSample`` with ranges into the body. The caller keeps the body
/// alive for as long as it uses the ranges.
public struct TextParser {
    @usableFromInline let buf: UnsafeRawBufferPointer
    @usableFromInline var pos: Int = 0
    /// The 1-based number of the line last read.
    public private(set) var line: Int = 0

    public init(_ body: UnsafeRawBufferPointer) {
        self.buf = body
    }

    /// Reads the next sample line, skipping comments, HELP, TYPE and blank lines.
    /// Returns false at the end of the body.
    public mutating func next(_ out: inout ExpositionSample) throws(ExpositionError) -> Bool {
        while pos < buf.count {
            line += 1
            skipBlanks()
            guard pos < buf.count else { return false }
            let c = buf[pos]
            if c == UInt8(ascii: "\n") {
                pos += 1
                continue
            }
            if c == UInt8(ascii: "#") {
                try comment()
                continue
            }
            try sampleLine(&out)
            return true
        }
        return false
    }

    // MARK: - Lines

    private mutating func comment() throws(ExpositionError) {
        pos += 1  // '#'
        let afterHash = pos
        skipBlanks()
        let word = token()
        if pos > afterHash, word.count == 4, isWord(word, "HELP") || isWord(word, "TYPE") {
            let isType = isWord(word, "TYPE")
            guard skipBlanks() > 0 else { throw fail("expected metric name after \(isType ? "TYPE" : "HELP")") }
            let nameStart = pos
            scanMetricName()
            guard pos > nameStart, atBlankOrEnd() else {
                throw fail("invalid metric name in \(isType ? "TYPE" : "HELP") line")
            }
            if isType {
                guard skipBlanks() > 0 else { throw fail("expected metric type after TYPE name") }
                let t = token()
                let known: [StaticString] = ["counter", "gauge", "histogram", "summary", "untyped"]
                guard known.contains(where: { isWord(t, $0) }) else {
                    throw fail("invalid metric type \(quoted(t))")
                }
                skipBlanks()
                guard atEndOfLine() else { throw fail("unexpected text after metric type") }
            }
        }
        skipToEndOfLine()
    }

    private mutating func sampleLine(_ out: inout ExpositionSample) throws(ExpositionError) {
        let start = pos
        scanMetricName()
        guard pos > start else { throw fail("expected metric name, got \(quoted(restOfLine()))") }
        out.name = start..<pos
        var blanks = skipBlanks()
        if pos < buf.count && buf[pos] == UInt8(ascii: "{") {
            pos += 1
            let labelsStart = pos
            try scanLabelSet()
            out.labels = labelsStart..<(pos - 1)
            out.series = start..<pos
            blanks = skipBlanks()
        } else {
            out.labels = pos..<pos
            out.series = out.name
        }
        guard blanks > 0 || pos == buf.count else {
            throw fail("expected value after metric, got \(quoted(restOfLine()))")
        }
        let valueToken = token()
        guard !valueToken.isEmpty else { throw fail("expected value after metric") }
        guard let value = parseFloat(valueToken) else {
            throw fail("expected value after metric, got \(quoted(valueToken))")
        }
        out.value = value
        out.timestamp = nil
        if skipBlanks() > 0 && !atEndOfLine() {
            let tsToken = token()
            guard let ts = parseInt(tsToken) else { throw fail("invalid timestamp \(quoted(tsToken))") }
            out.timestamp = ts
            skipBlanks()
        }
        guard atEndOfLine() else { throw fail("expected end of line, got \(quoted(restOfLine()))") }
        if pos < buf.count { pos += 1 }
    }

    /// Scans `name="value", ...}` up to and including the closing brace.
    private mutating func scanLabelSet() throws(ExpositionError) {
        while true {
            skipBlanks()
            guard pos < buf.count else { throw fail("unexpected end of input in label set") }
            if buf[pos] == UInt8(ascii: "}") {
                pos += 1
                return
            }
            let nameStart = pos
            scanLabelName()
            guard pos > nameStart else { throw fail("expected label name, got \(quoted(restOfLine()))") }
            skipBlanks()
            guard pos < buf.count, buf[pos] == UInt8(ascii: "=") else {
                throw fail("expected equal after label name, got \(quoted(restOfLine()))")
            }
            pos += 1
            skipBlanks()
            guard pos < buf.count, buf[pos] == UInt8(ascii: "\"") else {
                throw fail("expected label value, got \(quoted(restOfLine()))")
            }
            pos += 1
            while true {
                guard pos < buf.count, buf[pos] != UInt8(ascii: "\n") else {
                    throw fail("unterminated label value")
                }
                let b = buf[pos]
                pos += 1
                if b == UInt8(ascii: "\\") {
                    guard pos < buf.count, buf[pos] != UInt8(ascii: "\n") else {
                        throw fail("unterminated label value")
                    }
                    pos += 1
                } else if b == UInt8(ascii: "\"") {
                    break
                }
            }
            skipBlanks()
            guard pos < buf.count else { throw fail("unexpected end of input in label set") }
            if buf[pos] == UInt8(ascii: ",") {
                pos += 1
            } else if buf[pos] != UInt8(ascii: "}") {
                throw fail("expected comma or closing brace in label set, got \(quoted(restOfLine()))")
            }
        }
    }

    // MARK: - Scanning helpers

    @discardableResult
    private mutating func skipBlanks() -> Int {
        let start = pos
        while pos < buf.count {
            let b = buf[pos]
            guard b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r") else { break }
            pos += 1
        }
        return pos - start
    }

    private mutating func token() -> Range<Int> {
        let start = pos
        while pos < buf.count {
            let b = buf[pos]
            if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                break
            }
            pos += 1
        }
        return start..<pos
    }

    private mutating func scanMetricName() {
        guard pos < buf.count, isNameStart(buf[pos]) || buf[pos] == UInt8(ascii: ":") else { return }
        pos += 1
        while pos < buf.count, isNameChar(buf[pos]) || buf[pos] == UInt8(ascii: ":") { pos += 1 }
    }

    private mutating func scanLabelName() {
        guard pos < buf.count, isNameStart(buf[pos]) else { return }
        pos += 1
        while pos < buf.count, isNameChar(buf[pos]) { pos += 1 }
    }

    private func atEndOfLine() -> Bool { pos >= buf.count || buf[pos] == UInt8(ascii: "\n") }

    private func atBlankOrEnd() -> Bool {
        pos >= buf.count || buf[pos] == UInt8(ascii: " ") || buf[pos] == UInt8(ascii: "\t")
            || buf[pos] == UInt8(ascii: "\n") || buf[pos] == UInt8(ascii: "\r")
    }

    private mutating func skipToEndOfLine() {
        while pos < buf.count && buf[pos] != UInt8(ascii: "\n") { pos += 1 }
        if pos < buf.count { pos += 1 }
    }

    private func restOfLine() -> Range<Int> {
        var end = pos
        while end < buf.count && buf[end] != UInt8(ascii: "\n") && end - pos < 40 { end += 1 }
        return pos..<end
    }

    private func isWord(_ r: Range<Int>, _ word: StaticString) -> Bool {
        guard r.count == word.utf8CodeUnitCount else { return false }
        let p = word.utf8Start
        for i in 0..<r.count where buf[r.lowerBound + i] != p[i] { return false }
        return true
    }

    private func quoted(_ r: Range<Int>) -> String {
        let clipped = r.lowerBound..<min(r.upperBound, r.lowerBound + 40)
        return "\"" + String(decoding: UnsafeRawBufferPointer(rebasing: buf[clipped]), as: UTF8.self) + "\""
    }

    private func fail(_ message: String) -> ExpositionError {
        ExpositionError(line: line, message: message)
    }

    private func parseInt(_ r: Range<Int>) -> Int64? {
        guard !r.isEmpty else { return nil }
        var i = r.lowerBound
        var negative = false
        if buf[i] == UInt8(ascii: "-") || buf[i] == UInt8(ascii: "+") {
            negative = buf[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < r.upperBound else { return nil }
        var v: Int64 = 0
        while i < r.upperBound {
            let d = buf[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(d))
            guard !o1 && !o2 else { return nil }
            v = s
            i += 1
        }
        return negative ? -v : v
    }

    private func parseFloat(_ r: Range<Int>) -> Double? {
        FloatParser.parse(UnsafeRawBufferPointer(rebasing: buf[r]))
    }
}

@inline(__always) func isNameStart(_ b: UInt8) -> Bool {
    (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
        || b == UInt8(ascii: "_")
}

@inline(__always) func isNameChar(_ b: UInt8) -> Bool {
    isNameStart(b) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
}

/// Float parsing with the forms Go's `strconv.ParseFloat` accepts in exposition values.
public enum FloatParser {
    /// Parses a whole token; nil when any byte is left over or the form is not a float.
    public static func parse(_ token: UnsafeRawBufferPointer) -> Double? {
        let n = token.count
        guard n > 0, n < 64 else { return nil }
        var sawHex = false
        var sawHexExponent = false
        for (i, b) in token.enumerated() {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-"):
                continue
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                if (b | 0x20) == UInt8(ascii: "x") && i > 0 && token[i - 1] == UInt8(ascii: "0") { sawHex = true }
                if sawHex && (b | 0x20) == UInt8(ascii: "p") { sawHexExponent = true }
                continue
            default:
                return nil
            }
        }
        // Go accepts hexadecimal floats only with a binary exponent.
        if sawHex && !sawHexExponent { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { tmp -> Double? in
            guard let base = tmp.baseAddress else { return nil }
            for i in 0..<n { base[i] = CChar(bitPattern: token[i]) }
            base[n] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(base, &end)
            guard let end, end == base + n else { return nil }
            return v
        }
    }
}
