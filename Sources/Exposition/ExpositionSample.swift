import OutpostModel

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

/// An OpenMetrics exemplar attached to a sample line, as ranges into the body.
public struct ExpositionExemplar: Sendable {
    /// Between the braces, exclusive (read with ``LabelPairs``).
    public var labels: Range<Int> = 0..<0
    public var value: Double = 0
    /// Milliseconds, when the exemplar carries a timestamp.
    public var timestamp: Int64? = nil
    public init() {}
}

/// One sample line of an exposition body, as byte ranges into the body plus the parsed numbers.
///
/// `series` spans the metric name through the closing brace of the label set: identical series
/// lines have identical `series` bytes, which is what the scrape cache keys on.
public struct ExpositionSample: Sendable {
    public var series: Range<Int> = 0..<0
    /// The metric name; when ``nameQuoted`` is set, the inside of a quoted string (which may hold
    /// escapes: read it with ``LabelPairs/metricName(in:_:)``).
    public var name: Range<Int> = 0..<0
    public var nameQuoted = false
    /// The label pairs between the braces (after a quoted metric name, when there is one); empty
    /// when the line has no label set.
    public var labels: Range<Int> = 0..<0
    public var value: Double = 0
    /// Milliseconds, when the line carries a timestamp.
    public var timestamp: Int64? = nil
    /// The type of the family the line belongs to (`unknown` when no `# TYPE` line covers it).
    public var type: MetricType = .unknown
    public var exemplar: ExpositionExemplar? = nil
    public init() {}
}

/// A `# HELP`, `# TYPE` or `# UNIT` line, as ranges into the body.
public struct MetadataLine: Sendable {
    public enum Kind: UInt8, Sendable { case help, type, unit }
    public var kind: Kind
    /// The family name; when ``nameQuoted`` is set, the inside of a quoted string.
    public var name: Range<Int>
    public var nameQuoted: Bool
    /// HELP or UNIT text as written (HELP may hold escapes: read it with ``text(in:)``).
    public var text: Range<Int>
    /// For TYPE lines.
    public var type: MetricType

    /// The family name, unescaped.
    public func familyName(in body: UnsafeRawBufferPointer) -> String {
        nameQuoted ? Self.unescape(body, name) : String(decoding: UnsafeRawBufferPointer(rebasing: body[name]), as: UTF8.self)
    }

    /// The HELP or UNIT text, with `\\`, `\n` and `\"` unescaped.
    public func text(in body: UnsafeRawBufferPointer) -> String { Self.unescape(body, text) }

    static func unescape(_ body: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        while i < range.upperBound {
            let c = body[i]
            if c == UInt8(ascii: "\\"), i + 1 < range.upperBound {
                switch body[i + 1] {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "\\"): out.append(c)
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                default:
                    out.append(c)
                    out.append(body[i + 1])
                }
                i += 2
            } else {
                out.append(c)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// What every exposition parser offers the scrape loop.
public protocol ExpositionParser {
    /// Reads the next sample line; false at the end of the body.
    mutating func next(_ out: inout ExpositionSample) throws(ExpositionError) -> Bool
    /// The HELP, TYPE and UNIT lines read so far, in order. Callers may hand in a buffer to reuse
    /// (emptied, capacity kept) and take it back after the parse.
    var metadata: [MetadataLine] { get set }
}
