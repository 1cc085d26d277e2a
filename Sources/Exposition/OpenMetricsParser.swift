import OutpostModel

/// A byte-level parser for OpenMetrics 1.0 text (`application/openmetrics-text`).
///
/// Stricter than the Prometheus text format: single spaces between fields, no blank lines, `# EOF`
/// as the last line, timestamps in seconds. Adds `# UNIT`, the `info`, `stateset`,
/// `gaugehistogram` and `unknown` types, and exemplars after ` # `. Like Prometheus (without its
/// created-timestamp feature), it keeps `_created` lines as ordinary series unless asked to skip them.
public struct OpenMetricsParser: ExpositionParser {
    var s: ByteScanner
    /// The type of the last `# TYPE` line. Like Prometheus, it applies to every following line.
    var familyType = MetricType.unknown
    public var metadata: [MetadataLine] = []
    let skipCreatedSeries: Bool

    /// The 1-based number of the line last read.
    public var line: Int { s.line }

    public init(_ body: UnsafeRawBufferPointer, skipCreatedSeries: Bool = false) {
        s = ByteScanner(body)
        self.skipCreatedSeries = skipCreatedSeries
    }

    public mutating func next(_ out: inout ExpositionSample) throws(ExpositionError) -> Bool {
        while true {
            guard !s.atEnd else {
                s.line += 1
                throw s.fail("data does not end with # EOF")
            }
            s.line += 1
            if s.at("\n") { throw s.fail("expected a valid start token, got a blank line") }
            if s.at("#") {
                if try metadataLine() { return false }
                continue
            }
            try sampleLine(&out)
            if skipCreatedSeries && isCreatedSeries(out) { continue }
            return true
        }
    }

    // MARK: - Lines

    /// `# HELP`, `# TYPE`, `# UNIT` or `# EOF`; true at `# EOF`.
    private mutating func metadataLine() throws(ExpositionError) -> Bool {
        s.pos += 1
        guard s.at(" ") else { throw s.fail("expected a space after \"#\", got \(s.quoted(s.restOfLine()))") }
        s.pos += 1
        let word = s.token()
        if s.isWord(word, "EOF") {
            if s.at("\n") { s.pos += 1 }
            guard s.atEnd else {
                s.line += 1
                throw s.fail("unexpected data after # EOF")
            }
            return true
        }
        let kind: UInt8
        if s.isWord(word, "HELP") {
            kind = 0
        } else if s.isWord(word, "TYPE") {
            kind = 1
        } else if s.isWord(word, "UNIT") {
            kind = 2
        } else {
            throw s.fail("expected HELP, TYPE, UNIT or EOF after \"# \", got \(s.quoted(word))")
        }
        guard s.at(" ") else { throw s.fail("expected metric name after \(s.quoted(word))") }
        s.pos += 1
        let name: Range<Int>
        let quoted = s.at("\"")
        if quoted {
            name = try s.scanQuoted(strictEscapes: false)
        } else {
            let start = s.pos
            s.scanMetricName()
            name = start..<s.pos
            guard !name.isEmpty else { throw s.fail("expected metric name, got \(s.quoted(s.restOfLine()))") }
        }
        guard s.at(" ") else { throw s.fail("expected text in \(["HELP", "TYPE", "UNIT"][Int(kind)])") }
        s.pos += 1
        let textStart = s.pos
        s.skipToEndOfLine()
        guard s.pos > 0, s.buf[s.pos - 1] == 0x0A else { throw s.fail("data does not end with # EOF") }
        let value = textStart..<(s.pos - 1)
        if kind == 0 {  // HELP: free text, but valid UTF-8
            guard isValidUTF8(UnsafeRawBufferPointer(rebasing: s.buf[value])) else {
                throw s.fail("help text \(s.quoted(value)) is not a valid utf8 string")
            }
            metadata.append(MetadataLine(kind: .help, name: name, nameQuoted: quoted, text: value, type: .unknown))
            return false
        }
        if kind == 1 {
            guard let type = Self.type(of: value, in: s) else { throw s.fail("invalid metric type \(s.quoted(value))") }
            familyType = type
            metadata.append(MetadataLine(kind: .type, name: name, nameQuoted: quoted, text: value, type: type))
        } else if !value.isEmpty {
            // The unit must end the metric name, after an underscore.
            let ok =
                name.count > value.count
                && s.bytesEqual((name.upperBound - value.count)..<name.upperBound, value)
                && s.buf[name.upperBound - value.count - 1] == UInt8(ascii: "_")
            guard ok else { throw s.fail("unit \(s.quoted(value)) not a suffix of metric \(s.quoted(name))") }
            metadata.append(MetadataLine(kind: .unit, name: name, nameQuoted: quoted, text: value, type: .unknown))
        }
        return false
    }

    private static func type(of t: Range<Int>, in s: ByteScanner) -> MetricType? {
        for type in MetricType.allCases where type.name.utf8.elementsEqual(s.buf[t]) { return type }
        return nil
    }

    private mutating func sampleLine(_ out: inout ExpositionSample) throws(ExpositionError) {
        let start = s.pos
        s.scanMetricName()
        out.name = start..<s.pos
        out.nameQuoted = false
        if s.at("{") {
            out.labels = try labelSet(sample: &out)
            if out.name.isEmpty { throw s.fail("metric name not set") }
            out.series = start..<s.pos
        } else {
            guard !out.name.isEmpty else { throw s.fail("expected metric name, got \(s.quoted(s.restOfLine()))") }
            out.labels = s.pos..<s.pos
            out.series = out.name
        }
        guard s.at(" ") else { throw s.fail("expected value after metric, got \(s.quoted(s.restOfLine()))") }
        s.pos += 1
        out.value = try number("value")
        out.timestamp = nil
        out.exemplar = nil
        if s.at(" "), s.pos + 1 < s.buf.count, s.buf[s.pos + 1] != UInt8(ascii: "#") {
            s.pos += 1
            out.timestamp = try timestamp()
        }
        if s.at(" ") {
            // " # {labels} value [timestamp]"
            guard s.pos + 3 < s.buf.count, s.buf[s.pos + 1] == UInt8(ascii: "#"), s.buf[s.pos + 2] == UInt8(ascii: " "),
                s.buf[s.pos + 3] == UInt8(ascii: "{")
            else { throw s.fail("expected exemplar after \" # \", got \(s.quoted(s.restOfLine()))") }
            s.pos += 3
            var exemplar = ExpositionExemplar()
            var none = ExpositionSample()
            exemplar.labels = try labelSet(sample: &none, exemplar: true)
            guard s.at(" ") else { throw s.fail("expected exemplar value, got \(s.quoted(s.restOfLine()))") }
            s.pos += 1
            exemplar.value = try number("exemplar value")
            if s.at(" ") {
                s.pos += 1
                exemplar.timestamp = try timestamp(exemplar: true)
            }
            out.exemplar = exemplar
        }
        guard s.at("\n") else { throw s.fail("expected end of line, got \(s.quoted(s.restOfLine()))") }
        s.pos += 1
        out.type = familyType
    }

    private mutating func number(_ what: String) throws(ExpositionError) -> Double {
        let t = s.token()
        guard !t.isEmpty else { throw s.fail("expected \(what), got \(s.quoted(s.restOfLine()))") }
        guard let v = s.parseFloat(t) else { throw s.fail("invalid \(what) \(s.quoted(t))") }
        return v
    }

    /// Seconds with an optional fraction, returned as milliseconds.
    /// Truncated, as Prometheus converts them.
    private mutating func timestamp(exemplar: Bool = false) throws(ExpositionError) -> Int64 {
        let t = s.token()
        let what = exemplar ? "invalid exemplar timestamp" : "invalid timestamp"
        guard let seconds = s.parseFloat(t), seconds.isFinite else { throw s.fail("\(what) \(s.quoted(t))") }
        let ms = seconds * 1000
        guard ms > -9.2e18 && ms < 9.2e18 else { throw s.fail("\(what) \(s.quoted(t))") }
        return Int64(ms)
    }

    /// At `{`: `name="value"` pairs separated by commas (a trailing comma allowed), no blanks.
    /// A quoted string followed by `,` or `}` is the metric name (not in exemplars). Returns the
    /// range between the braces.
    private mutating func labelSet(
        sample: inout ExpositionSample, exemplar: Bool = false
    ) throws(ExpositionError) -> Range<Int> {
        s.pos += 1
        let start = s.pos
        while true {
            guard !s.atEnd else { throw s.fail("unexpected end of input in label set") }
            if s.at("}") { break }
            if s.at("\"") {
                let name = try s.scanQuoted(strictEscapes: false)
                if !exemplar && (s.at(",") || s.at("}")) {
                    guard sample.name.isEmpty else { throw s.fail("metric name already set in label set") }
                    sample.name = name
                    sample.nameQuoted = true
                    if s.at(",") { s.pos += 1 }
                    continue
                }
            } else {
                let nameStart = s.pos
                s.scanLabelName()
                guard s.pos > nameStart else { throw s.fail("expected label name, got \(s.quoted(s.restOfLine()))") }
            }
            guard s.at("=") else { throw s.fail("expected equal, got \(s.quoted(s.restOfLine()))") }
            s.pos += 1
            guard s.at("\"") else { throw s.fail("expected label value, got \(s.quoted(s.restOfLine()))") }
            _ = try s.scanQuoted(strictEscapes: false)
            if s.at(",") {
                s.pos += 1
            } else if !s.at("}") {
                throw s.fail("expected comma or brace close, got \(s.quoted(s.restOfLine()))")
            }
        }
        s.pos += 1
        return start..<(s.pos - 1)
    }

    /// Prometheus drops `_created` lines while the current family is a counter, summary or
    /// histogram: the created timestamp is metadata, not a sample.
    private func isCreatedSeries(_ out: ExpositionSample) -> Bool {
        switch familyType {
        case .counter, .summary, .histogram:
            return out.name.count >= 8 && s.isWord((out.name.upperBound - 8)..<out.name.upperBound, "_created")
        default:
            return false
        }
    }
}
