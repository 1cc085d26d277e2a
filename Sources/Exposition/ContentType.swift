/// The body formats a scrape response can come in.
public enum ExpositionFormat: Sendable, Equatable {
    /// `text/plain`: the Prometheus text format (0.0.4, and 1.0.0 with quoted UTF-8 names).
    case prometheusText
    /// `application/openmetrics-text`.
    case openMetrics
    /// `application/vnd.google.protobuf`: Prometheus' protobuf format, which Outpost does not read.
    case prometheusProto
}

public enum ContentType {
    /// The format a response's `Content-Type` names, or why none could be chosen (blank, not a
    /// media type, or a media type no parser reads) — the caller then uses its fallback. Parameters
    /// such as `version` are ignored, as Prometheus ignores them.
    public static func format(of contentType: String?) -> Result<ExpositionFormat, ContentTypeProblem> {
        guard let contentType, !contentType.allSatisfy({ $0 == " " || $0 == "\t" }) else { return .failure(.blank) }
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
            .trimmingBlanks().lowercased()
        let parts = mediaType.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(isTokenChar) }) else {
            return .failure(.unparseable(contentType))
        }
        switch mediaType {
        case "text/plain": return .success(.prometheusText)
        case "application/openmetrics-text": return .success(.openMetrics)
        case "application/vnd.google.protobuf": return .success(.prometheusProto)
        default: return .failure(.unsupported(contentType))
        }
    }

    private static func isTokenChar(_ c: Character) -> Bool {
        guard let a = c.asciiValue, a > 0x20, a < 0x7F else { return false }
        return !"()<>@,;:\\\"/[]?=".contains(c)
    }
}

/// Why a response's `Content-Type` named no usable format.
public enum ContentTypeProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case blank
    case unparseable(String)
    case unsupported(String)

    public var description: String {
        switch self {
        case .blank: "non-compliant scrape target sending blank Content-Type"
        case .unparseable(let t): "could not parse received Content-Type \"\(t)\""
        case .unsupported(let t): "received unsupported Content-Type \"\(t)\""
        }
    }
}

extension Substring {
    fileprivate func trimmingBlanks() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}

/// Label values OpenMetrics writes as floats (`le`, `quantile`) in its canonical spelling, as
/// Prometheus normalises them: `1` becomes `1.0`, `1e6` becomes `1e+06`.
public enum OpenMetricsFloat {
    /// The canonical spelling of `text` when it is a float; nil when it is not one.
    public static func normalize(_ text: [UInt8]) -> [UInt8]? {
        guard let v = text.withUnsafeBytes({ FloatParser.parse($0) }) else { return nil }
        return Array(format(v).utf8)
    }

    /// Go's `strconv.FormatFloat(v, 'g', -1, 64)`, with `.0` added when the result has neither a
    /// point nor an exponent.
    public static func format(_ v: Double) -> String {
        if v == 1 { return "1.0" }
        if v == 0 { return "0.0" }
        if v == -1 { return "-1.0" }
        if v.isNaN { return "NaN" }
        if v == .infinity { return "+Inf" }
        if v == -.infinity { return "-Inf" }
        // Swift prints the shortest digits that read back to the same double, as Go does; only
        // the layout differs. Take the digits and the decimal exponent, then lay them out like Go.
        var digits: [UInt8] = []
        var pointAt: Int? = nil
        var exponent = 0
        let text = Array("\(v.magnitude)".utf8)
        var i = 0
        while i < text.count {
            let c = text[i]
            if c == UInt8(ascii: ".") {
                pointAt = digits.count
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                exponent = Int(String(decoding: text[(i + 1)...], as: UTF8.self)) ?? 0
                break
            } else {
                digits.append(c)
            }
            i += 1
        }
        // Decimal point position relative to the digit string: value = 0.d1d2... × 10^dp.
        var dp = (pointAt ?? digits.count) + exponent
        while digits.first == UInt8(ascii: "0") && digits.count > 1 {
            digits.removeFirst()
            dp -= 1
        }
        while digits.last == UInt8(ascii: "0") && digits.count > 1 { digits.removeLast() }
        let nd = digits.count
        var out = v < 0 ? "-" : ""
        let exp = dp - 1
        if exp < -4 || exp >= 6 {  // Go's %g switches to an exponent outside [1e-4, 1e6)
            out += String(decoding: digits[0..<1], as: UTF8.self)
            if nd > 1 { out += "." + String(decoding: digits[1...], as: UTF8.self) }
            out += exp < 0 ? "e-" : "e+"
            let e = exp.magnitude
            out += e < 10 ? "0\(e)" : "\(e)"
            return out
        }
        if dp <= 0 {
            out += "0." + String(repeating: "0", count: -dp) + String(decoding: digits, as: UTF8.self)
        } else if dp >= nd {
            out += String(decoding: digits, as: UTF8.self) + String(repeating: "0", count: dp - nd)
        } else {
            out += String(decoding: digits[0..<dp], as: UTF8.self) + "." + String(decoding: digits[dp...], as: UTF8.self)
        }
        if !out.contains(".") { out += ".0" }
        return out
    }
}
