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

/// The type a `# TYPE` line gives a metric family. `untyped` (text) and `unknown` (OpenMetrics) are
/// the same thing.
public enum MetricType: UInt8, Sendable, CaseIterable {
    case unknown, counter, gauge, histogram, summary, info, stateset, gaugeHistogram

    /// The spelling in an exposition `# TYPE` line.
    public var name: String {
        switch self {
        case .unknown: "unknown"
        case .counter: "counter"
        case .gauge: "gauge"
        case .histogram: "histogram"
        case .summary: "summary"
        case .info: "info"
        case .stateset: "stateset"
        case .gaugeHistogram: "gaugehistogram"
        }
    }
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

/// What every exposition parser offers the scrape loop.
public protocol ExpositionParser {
    /// Reads the next sample line; false at the end of the body.
    mutating func next(_ out: inout ExpositionSample) throws(ExpositionError) -> Bool
}
