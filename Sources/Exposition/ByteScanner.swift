/// The cursor both exposition parsers walk a body with: byte classes, names, quoted strings,
/// numbers and error messages. It never copies the body and allocates only to describe an error.
struct ByteScanner {
    let buf: UnsafeRawBufferPointer
    var pos: Int = 0
    /// The 1-based number of the line being read.
    var line: Int = 0

    init(_ buf: UnsafeRawBufferPointer) { self.buf = buf }

    var atEnd: Bool { pos >= buf.count }

    /// The byte at the cursor, or 0 at the end.
    @inline(__always) var peek: UInt8 { pos < buf.count ? buf[pos] : 0 }

    @inline(__always) func at(_ c: Unicode.Scalar) -> Bool { pos < buf.count && buf[pos] == UInt8(ascii: c) }

    /// Skips spaces and tabs (and carriage returns when `carriageReturns`); returns how many.
    @discardableResult
    @inline(__always)
    mutating func skipBlanks(carriageReturns: Bool = true) -> Int {
        let start = pos
        while pos < buf.count {
            let b = buf[pos]
            guard b == 0x20 || b == 0x09 || (carriageReturns && b == 0x0D) else { break }
            pos += 1
        }
        return pos - start
    }

    /// The run of bytes up to the next blank or line end.
    @inline(__always)
    mutating func token() -> Range<Int> {
        let start = pos
        while pos < buf.count {
            let b = buf[pos]
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { break }
            pos += 1
        }
        return start..<pos
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    @inline(__always)
    mutating func scanMetricName() {
        guard pos < buf.count, isNameStart(buf[pos]) || buf[pos] == UInt8(ascii: ":") else { return }
        pos += 1
        while pos < buf.count, isNameChar(buf[pos]) || buf[pos] == UInt8(ascii: ":") { pos += 1 }
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`.
    @inline(__always)
    mutating func scanLabelName() {
        guard pos < buf.count, isNameStart(buf[pos]) else { return }
        pos += 1
        while pos < buf.count, isNameChar(buf[pos]) { pos += 1 }
    }

    /// At an opening quote: scans to the closing quote and returns the range between them.
    /// Backslash escapes anything but a line end; `strictEscapes` allows only `\\`, `\"`, `\n`
    /// (OpenMetrics). With `allowNewlines`, line ends inside are counted in `line`.
    mutating func scanQuoted(strictEscapes: Bool, allowNewlines: Bool = false) throws(ExpositionError) -> Range<Int> {
        pos += 1
        let start = pos
        let end = buf.count
        while true {
            // Most values are plain bytes up to their closing quote: one test per byte.
            while pos < end {
                let b = buf[pos]
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b == 0x0A { break }
                pos += 1
            }
            guard pos < end else { throw fail("unterminated quoted string") }
            let b = buf[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                return start..<(pos - 1)
            }
            if b == 0x0A {
                guard allowNewlines else { throw fail("unterminated quoted string") }
                line += 1
                pos += 1
                continue
            }
            // A backslash and the byte it escapes.
            pos += 1
            guard pos < end, allowNewlines || buf[pos] != 0x0A else { throw fail("unterminated quoted string") }
            let e = buf[pos]
            if strictEscapes {
                guard e == UInt8(ascii: "\\") || e == UInt8(ascii: "\"") || e == UInt8(ascii: "n") else {
                    throw fail("invalid escape sequence \(quoted(pos - 1..<pos + 1))")
                }
            }
            if e == 0x0A { line += 1 }
            pos += 1
        }
    }

    @inline(__always) var atEndOfLine: Bool { pos >= buf.count || buf[pos] == 0x0A }

    mutating func skipToEndOfLine() {
        while pos < buf.count && buf[pos] != 0x0A { pos += 1 }
        if pos < buf.count { pos += 1 }
    }

    /// Up to 40 bytes from the cursor on the current line, for messages.
    func restOfLine() -> Range<Int> {
        var end = pos
        while end < buf.count && buf[end] != 0x0A && end - pos < 40 { end += 1 }
        return pos..<end
    }

    func isWord(_ r: Range<Int>, _ word: StaticString) -> Bool {
        guard r.count == word.utf8CodeUnitCount else { return false }
        let p = word.utf8Start
        for i in 0..<r.count where buf[r.lowerBound + i] != p[i] { return false }
        return true
    }

    func bytesEqual(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where buf[a.lowerBound + i] != buf[b.lowerBound + i] { return false }
        return true
    }

    /// Whether `name` is `family` followed by `suffix` (`suffix` may be empty).
    func hasFamily(_ name: Range<Int>, _ family: Range<Int>, suffix: StaticString) -> Bool {
        let n = suffix.utf8CodeUnitCount
        guard name.count == family.count + n else { return false }
        for i in 0..<family.count where buf[name.lowerBound + i] != buf[family.lowerBound + i] { return false }
        let p = suffix.utf8Start
        for i in 0..<n where buf[name.lowerBound + family.count + i] != p[i] { return false }
        return true
    }

    func quoted(_ r: Range<Int>) -> String {
        let clipped = r.lowerBound..<min(r.upperBound, r.lowerBound + 40)
        return "\"" + String(decoding: UnsafeRawBufferPointer(rebasing: buf[clipped]), as: UTF8.self) + "\""
    }

    func fail(_ message: String) -> ExpositionError { ExpositionError(line: line, message: message) }

    /// A decimal integer (with an optional sign when `signed`).
    func parseInt(_ r: Range<Int>, signed: Bool) -> Int64? {
        guard !r.isEmpty else { return nil }
        var i = r.lowerBound
        var negative = false
        if signed, buf[i] == UInt8(ascii: "-") || buf[i] == UInt8(ascii: "+") {
            negative = buf[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < r.upperBound else { return nil }
        var v: Int64 = 0
        while i < r.upperBound {
            let d = buf[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1 && !o2 else { return nil }
            v = s
            i += 1
        }
        return v
    }

    @inline(__always)
    func parseFloat(_ r: Range<Int>) -> Double? {
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

/// Whether `bytes` are well-formed UTF-8 (no overlong forms, no surrogates).
public func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    // ASCII, the common case, needs no decoder.
    if !bytes.contains(where: { $0 >= 0x80 }) { return true }
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue: continue
        case .emptyInput: return true
        case .error: return false
        }
    }
}
