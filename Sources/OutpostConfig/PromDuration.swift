/// Durations in Prometheus' syntax: units `y w d h m s ms`, largest first, each at most once
/// (`1h30m`, `2d`, `500ms`), or a bare `0`. A year is 365 days, as in Prometheus.
public enum PromDuration {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("y", 365 * 24 * 3_600_000), ("w", 7 * 24 * 3_600_000), ("d", 24 * 3_600_000), ("h", 3_600_000),
        ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    /// Parses `text`; nil when it is not a valid Prometheus duration.
    public static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        var rest = Substring(text)
        var total: Int64 = 0
        var nextUnit = 0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let n = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let letters = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(letters.count)
            guard let idx = units.firstIndex(where: { $0.suffix == letters }), idx >= nextUnit else { return nil }
            nextUnit = idx + 1
            let (m, o1) = n.multipliedReportingOverflow(by: units[idx].milliseconds)
            let (s, o2) = total.addingReportingOverflow(m)
            guard !o1, !o2 else { return nil }
            total = s
        }
        return .milliseconds(total)
    }

    /// Formats a duration the way Prometheus prints it (`1m30s`, `5s`, `250ms`, `0s`).
    public static func format(_ d: Duration) -> String {
        var ms = d.milliseconds
        if ms == 0 { return "0s" }
        var out = ""
        for (suffix, size) in units where ms >= size {
            // Prometheus only uses y and w when they divide the value exactly.
            if (suffix == "y" || suffix == "w") && ms % size != 0 { continue }
            out += "\(ms / size)\(suffix)"
            ms %= size
        }
        return out
    }
}

extension Duration {
    /// Whole milliseconds, truncated.
    public var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }

    /// Seconds as a floating-point number.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
