/// A format a scrape may ask a target for, by the name `scrape_protocols` uses.
public enum ScrapeProtocol: String, Sendable, CaseIterable {
    case prometheusProto = "PrometheusProto"
    case openMetricsText1_0_0 = "OpenMetricsText1.0.0"
    case openMetricsText0_0_1 = "OpenMetricsText0.0.1"
    case prometheusText1_0_0 = "PrometheusText1.0.0"
    case prometheusText0_0_4 = "PrometheusText0.0.4"

    /// Prometheus' default preference, without the protobuf format (which needs native histograms).
    public static let defaults: [ScrapeProtocol] = [
        .openMetricsText1_0_0, .openMetricsText0_0_1, .prometheusText1_0_0, .prometheusText0_0_4,
    ]

    /// The media type offered in the `Accept` header.
    public var mediaType: String {
        switch self {
        case .prometheusProto: "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
        case .openMetricsText1_0_0: "application/openmetrics-text;version=1.0.0"
        case .openMetricsText0_0_1: "application/openmetrics-text;version=0.0.1"
        case .prometheusText1_0_0: "text/plain;version=1.0.0"
        case .prometheusText0_0_4: "text/plain;version=0.0.4"
        }
    }

    /// Whether the media type takes an `escaping=` parameter (the formats that can carry UTF-8 names).
    public var takesEscaping: Bool { self == .openMetricsText1_0_0 || self == .prometheusText1_0_0 }
}

/// Which metric and label names a scrape accepts: any UTF-8 (Prometheus 3's default) or only the
/// classic `[a-zA-Z_:][a-zA-Z0-9_:]*` names.
public enum NameValidationScheme: String, Sendable {
    case utf8
    case legacy
}

/// Sizes as Prometheus writes them (`body_size_limit: 10MB`): a number and a unit, repeatable
/// (`1GB512MB`), each unit a power of 1024 whether spelled `KB` or `KiB`.
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        if text == "0" { return 0 }
        let k = 1024.0
        let units: [(String, Double)] = [
            ("KiB", k), ("MiB", k * k), ("GiB", k * k * k), ("TiB", k * k * k * k), ("KB", k), ("MB", k * k),
            ("GB", k * k * k), ("TB", k * k * k * k), ("B", 1),
        ]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        guard total < 9.2e18 else { return nil }
        return Int(total)
    }
}
