import OutpostModel

/// A byte-level parser for the Prometheus text exposition format: 0.0.4, and 1.0.0's quoted UTF-8
/// names (`{"my.metric", "label.name"="v"}`).
///
/// It walks the body once, never copies it and allocates nothing per line: each call to
/// ``next(_:)`` fills an ``ExpositionSample`` with ranges into the body. The caller keeps the body
/// alive for as long as it uses the ranges.
public struct TextParser: ExpositionParser {
    var s: ByteScanner
    /// The type of the last `# TYPE` line. Like Prometheus, it applies to every following line.
    var familyType = MetricType.unknown
    public var metadata: [MetadataLine] = []

    /// The 1-based number of the line last read.
    public var line: Int { s.line }

    public init(_ body: UnsafeRawBufferPointer) {
        s = ByteScanner(body)
    }

    /// Reads the next sample line, skipping comments, HELP, TYPE and blank lines.
    /// Returns false at the end of the body.
    public mutating func next(_ out: inout ExpositionSample) throws(ExpositionError) -> Bool {
        while !s.atEnd {
            s.line += 1
            s.skipBlanks()
            guard !s.atEnd else { return false }
            let c = s.peek
            if c == 0x0A {
                s.pos += 1
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
        s.pos += 1  // '#'
        // Only "#", blanks, then HELP or TYPE makes a metadata line; anything else is a comment.
        guard s.skipBlanks() > 0 else { return s.skipToEndOfLine() }
        let word = s.token()
        guard s.isWord(word, "HELP") || s.isWord(word, "TYPE") else { return s.skipToEndOfLine() }
        let isType = s.isWord(word, "TYPE")
        let what = isType ? "TYPE" : "HELP"
        guard s.skipBlanks() > 0, !s.atEndOfLine else { throw s.fail("expected metric name after \(what)") }
        let name: Range<Int>
        let quoted = s.at("\"")
        if quoted {
            name = try s.scanQuoted(strictEscapes: false)
        } else {
            let start = s.pos
            s.scanMetricName()
            name = start..<s.pos
        }
        let separated = s.skipBlanks() > 0
        guard !name.isEmpty || quoted, separated || s.atEndOfLine else {
            throw s.fail("invalid metric name in \(what) line")
        }
        guard isType else {  // HELP text is free-form
            let textStart = s.pos
            s.skipToEndOfLine()
            var end = s.pos
            if end > textStart && s.buf[end - 1] == 0x0A { end -= 1 }
            if end > textStart && s.buf[end - 1] == 0x0D { end -= 1 }
            metadata.append(
                MetadataLine(kind: .help, name: name, nameQuoted: quoted, text: textStart..<max(textStart, end), type: .unknown))
            return
        }
        let t = s.token()
        let type: MetricType
        if s.isWord(t, "counter") {
            type = .counter
        } else if s.isWord(t, "gauge") {
            type = .gauge
        } else if s.isWord(t, "histogram") {
            type = .histogram
        } else if s.isWord(t, "summary") {
            type = .summary
        } else if s.isWord(t, "untyped") {
            type = .unknown
        } else {
            throw s.fail("invalid metric type \(s.quoted(t))")
        }
        s.skipBlanks()
        guard s.atEndOfLine else { throw s.fail("linebreak expected after metadata, got \(s.quoted(s.restOfLine()))") }
        s.skipToEndOfLine()
        familyType = type
        metadata.append(MetadataLine(kind: .type, name: name, nameQuoted: quoted, text: s.pos..<s.pos, type: type))
    }

    private mutating func sampleLine(_ out: inout ExpositionSample) throws(ExpositionError) {
        let start = s.pos
        s.scanMetricName()
        out.name = start..<s.pos
        out.nameQuoted = false
        var blanks = s.skipBlanks()
        if s.at("{") {
            try scanLabelSet(&out)
            out.series = start..<s.pos
            blanks = s.skipBlanks()
        } else {
            guard !out.name.isEmpty else { throw s.fail("expected metric name, got \(s.quoted(s.restOfLine()))") }
            out.labels = s.pos..<s.pos
            out.series = out.name
        }
        guard blanks > 0 else {
            throw s.fail("expected value after metric, got \(s.quoted(s.restOfLine()))")
        }
        let valueToken = s.token()
        guard !valueToken.isEmpty else { throw s.fail("expected value after metric") }
        guard let value = s.parseFloat(valueToken) else {
            throw s.fail("expected value after metric, got \(s.quoted(valueToken))")
        }
        out.value = value
        out.timestamp = nil
        out.exemplar = nil
        if s.skipBlanks() > 0 && !s.atEndOfLine {
            let tsToken = s.token()
            guard let ts = s.parseInt(tsToken, signed: false) else { throw s.fail("invalid timestamp \(s.quoted(tsToken))") }
            out.timestamp = ts
            s.skipBlanks()
        }
        guard s.atEndOfLine else { throw s.fail("expected end of line, got \(s.quoted(s.restOfLine()))") }
        if !s.atEnd { s.pos += 1 }
        out.type = familyType
    }

    /// At `{`: scans `name="value"` pairs through the closing brace. Commas between pairs are
    /// optional, as in Prometheus; label names may be quoted; a quoted string not followed by `=`
    /// is the metric name, when none came before.
    private mutating func scanLabelSet(_ out: inout ExpositionSample) throws(ExpositionError) {
        s.pos += 1
        let labelsStart = s.pos
        while true {
            s.skipBlanks()
            guard !s.atEnd else { throw s.fail("unexpected end of input in label set") }
            if s.at("}") {
                s.pos += 1
                break
            }
            if s.at("\"") {
                let name = try quoted()
                s.skipBlanks()
                if !s.at("=") {
                    guard out.name.isEmpty else { throw s.fail("metric name already set in label set") }
                    out.name = name
                    out.nameQuoted = true
                    try separator()
                    continue
                }
            } else {
                let nameStart = s.pos
                s.scanLabelName()
                guard s.pos > nameStart else { throw s.fail("expected label name, got \(s.quoted(s.restOfLine()))") }
                s.skipBlanks()
            }
            guard s.at("=") else {
                throw s.fail("expected equal after label name, got \(s.quoted(s.restOfLine()))")
            }
            s.pos += 1
            s.skipBlanks()
            guard s.at("\"") else { throw s.fail("expected label value, got \(s.quoted(s.restOfLine()))") }
            _ = try quoted()
            try separator()
        }
        if out.name.isEmpty { throw s.fail("metric name not set") }
        out.labels = labelsStart..<(s.pos - 1)
    }

    /// A quoted name or value; unlike OpenMetrics, the text format lets values span lines.
    private mutating func quoted() throws(ExpositionError) -> Range<Int> {
        try s.scanQuoted(strictEscapes: false, allowNewlines: true)
    }

    /// After a pair: blanks, then an optional comma.
    private mutating func separator() throws(ExpositionError) {
        s.skipBlanks()
        guard !s.atEnd else { throw s.fail("unexpected end of input in label set") }
        if s.at(",") { s.pos += 1 }
    }
}
