/// The type a `# TYPE` line gives a metric family. `untyped` (text) and `unknown` (OpenMetrics) are
/// the same thing. Raw values are part of the WAL format.
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

/// What a target says about a metric family: its type, help text and unit (empty when not given).
/// Kept per family name, as Prometheus' scrape cache keeps it, and carried through the WAL to
/// remote-write (per series in 2.0, per family in 1.0's metadata requests).
public struct MetricMetadata: Sendable, Equatable {
    public var family: String
    public var type: MetricType
    public var help: String
    public var unit: String
    public init(family: String, type: MetricType = .unknown, help: String = "", unit: String = "") {
        self.family = family
        self.type = type
        self.help = help
        self.unit = unit
    }
}
