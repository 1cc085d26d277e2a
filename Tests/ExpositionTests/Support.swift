import Exposition
import Testing

/// One parsed line, decoded the way the scrape loop reads it on a cache miss.
struct Parsed: Equatable, CustomStringConvertible {
    var name: String
    var labels: [String: String]
    var value: Double
    var timestamp: Int64?
    var type: MetricType = .unknown
    var exemplar: String? = nil

    var description: String { "\(name)\(labels.sorted { $0.key < $1.key }) \(value) \(timestamp.map(String.init) ?? "-")" }

    static func == (a: Parsed, b: Parsed) -> Bool {
        a.name == b.name && a.labels == b.labels && a.timestamp == b.timestamp && a.exemplar == b.exemplar
            && (a.value == b.value || (a.value.isNaN && b.value.isNaN))
    }
}

enum Format { case text, openMetrics }

/// Parses `text` completely with the parser for `format`.
func parse(_ text: String, _ format: Format = .text) throws(ExpositionError) -> [Parsed] {
    let bytes = Array(text.utf8)
    let result = bytes.withUnsafeBytes { raw -> Result<[Parsed], ExpositionError> in
        do throws(ExpositionError) {
            switch format {
            case .text:
                var p = TextParser(raw)
                return .success(try drain(&p, raw))
            case .openMetrics:
                var p = OpenMetricsParser(raw)
                return .success(try drain(&p, raw))
            }
        } catch {
            return .failure(error)
        }
    }
    return try result.get()
}

func drain<P: ExpositionParser>(_ p: inout P, _ raw: UnsafeRawBufferPointer) throws(ExpositionError) -> [Parsed] {
    var line = ExpositionSample()
    var out: [Parsed] = []
    while try p.next(&line) {
        var labels: [String: String] = [:]
        LabelPairs.forEach(in: raw, range: line.labels) { n, v in
            labels[String(decoding: n, as: UTF8.self)] = String(decoding: v, as: UTF8.self)
        }
        var exemplar: String? = nil
        if let e = line.exemplar {
            var pairs: [String] = []
            LabelPairs.forEach(in: raw, range: e.labels) { n, v in
                pairs.append(String(decoding: n, as: UTF8.self) + "=" + String(decoding: v, as: UTF8.self))
            }
            exemplar = "{\(pairs.joined(separator: ","))} \(e.value)" + (e.timestamp.map { " \($0)" } ?? "")
        }
        out.append(
            Parsed(
                name: String(decoding: LabelPairs.metricName(in: raw, line), as: UTF8.self), labels: labels,
                value: line.value, timestamp: line.timestamp, type: line.type, exemplar: exemplar))
    }
    return out
}

/// The error parsing `text` raises, or nil when it parses.
func parseError(_ text: String, _ format: Format = .text) -> ExpositionError? {
    do {
        _ = try parse(text, format)
        return nil
    } catch {
        return error
    }
}

func sample(
    _ name: String, _ labels: [String: String] = [:], _ value: Double, _ ts: Int64? = nil, exemplar: String? = nil
) -> Parsed {
    Parsed(name: name, labels: labels, value: value, timestamp: ts, exemplar: exemplar)
}

func sample(_ name: String, _ value: Double, _ ts: Int64? = nil) -> Parsed {
    Parsed(name: name, labels: [:], value: value, timestamp: ts)
}
