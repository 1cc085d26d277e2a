import Telemetry

/// Renders the status snapshot as the operator's HTML page and as Prometheus' targets JSON.
enum StatusPage {
    static func html(_ s: StatusSnapshot) -> String {
        var h = """
            <!doctype html><html><head><meta charset="utf-8"><title>Outpost status</title>
            <style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}
            td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}th{background:#eee}
            .up{color:#18794e;font-weight:bold}.down{color:#c62828;font-weight:bold}.unknown{color:#777}
            .err{color:#c62828}</style></head><body>
            <h1>Outpost</h1>
            """
        let up = s.targets.filter { $0.health == .up }.count
        h += "<p>Version \(esc(s.version)) · config <code>\(esc(s.configFile))</code> · started \(RFC3339.format(milliseconds: s.startTime))"
        h += " · targets up \(up)/\(s.targets.count)</p>"
        h += "<h2>Remote write</h2><table><tr><th>Endpoint</th><th>URL</th><th>Sent</th><th>Failed</th>"
        h += "<th>Retried</th><th>Dropped</th><th>Shards</th><th>Pending</th><th>Lag</th><th>Last success</th><th>Cursor</th><th>Last error</th></tr>"
        for e in s.endpoints {
            h += "<tr><td>\(esc(e.name))</td><td>\(esc(e.url))</td><td>\(e.samplesSent)</td><td>\(e.samplesFailed)</td>"
            h += "<td>\(e.samplesRetried)</td><td>\(e.samplesDropped)</td><td>\(e.shards)</td><td>\(e.pending)</td><td>\(formatDouble(e.lagSeconds))s</td>"
            h += "<td>\(e.lastSuccess == 0 ? "never" : RFC3339.format(milliseconds: e.lastSuccess))</td>"
            h += "<td>\(esc(e.cursor))</td><td class=\"err\">\(esc(e.lastError))</td></tr>"
        }
        h += "</table><h2>WAL</h2><table><tr><th>Directory</th><th>Segments</th><th>Bytes</th><th>Series</th>"
        h += "<th>Head segment</th><th>Last error</th></tr>"
        h += "<tr><td>\(esc(s.wal.directory))</td><td>\(s.wal.segments)</td><td>\(s.wal.bytesOnDisk)</td>"
        h += "<td>\(s.wal.series)</td><td>\(s.wal.headSegment)</td><td class=\"err\">\(esc(s.wal.lastError))</td></tr></table>"
        if !s.discovery.isEmpty {
            h += "<h2>Discovery</h2><table><tr><th>Job</th><th>Mechanism</th><th>Source</th><th>Targets</th>"
            h += "<th>Last update</th><th>Last error</th></tr>"
            for d in s.discovery {
                h += "<tr><td>\(esc(d.job))</td><td>\(esc(d.mechanism))</td><td>\(esc(d.source))</td><td>\(d.targets)</td>"
                h += "<td>\(d.lastUpdate == 0 ? "never" : RFC3339.format(milliseconds: d.lastUpdate))</td>"
                h += "<td class=\"err\">\(esc(d.lastError))</td></tr>"
            }
            h += "</table>"
        }
        h += "<h2>Targets</h2><table><tr><th>Job</th><th>Endpoint</th><th>State</th><th>Labels</th>"
        h += "<th>Last scrape</th><th>Duration</th><th>Samples</th><th>Error</th></tr>"
        for t in s.targets {
            let labels = t.labels.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: " ")
            h += "<tr><td>\(esc(t.job))</td><td>\(esc(t.scrapeURL))</td>"
            h += "<td class=\"\(t.health.rawValue)\">\(t.health.rawValue.uppercased())</td><td>\(esc(labels))</td>"
            h += "<td>\(t.lastScrape == 0 ? "never" : RFC3339.format(milliseconds: t.lastScrape))</td>"
            h += "<td>\(formatDouble(t.lastScrapeDuration * 1000))ms</td><td>\(t.lastSamples)</td>"
            h += "<td class=\"err\">\(esc(t.lastError))</td></tr>"
        }
        h += "</table>"
        if !s.droppedTargets.isEmpty {
            h += "<p>\(s.droppedTargets.count) targets dropped by relabeling (see /api/v1/targets).</p>"
        }
        h += "</body></html>\n"
        return h
    }

    /// The shape of Prometheus' `GET /api/v1/targets`.
    static func targetsJSON(_ s: StatusSnapshot) -> String {
        var out = "{\"status\":\"success\",\"data\":{\"activeTargets\":["
        for (i, t) in s.targets.enumerated() {
            if i > 0 { out += "," }
            out += "{\"discoveredLabels\":" + object(t.discoveredLabels)
            out += ",\"labels\":" + object(t.labels)
            out += ",\"scrapePool\":" + json(t.job) + ",\"scrapeUrl\":" + json(t.scrapeURL)
            out += ",\"globalUrl\":" + json(t.scrapeURL)
            out += ",\"lastError\":" + json(t.lastError)
            out += ",\"lastScrape\":" + json(RFC3339.format(milliseconds: t.lastScrape))
            out += ",\"lastScrapeDuration\":" + formatDouble(t.lastScrapeDuration)
            out += ",\"health\":" + json(t.health.rawValue)
            out += ",\"scrapeInterval\":" + json(formatDuration(t.interval))
            out += ",\"scrapeTimeout\":" + json(formatDuration(t.timeout)) + "}"
        }
        out += "],\"droppedTargets\":["
        out += s.droppedTargets.map { "{\"discoveredLabels\":" + object($0.labels) + "}" }.joined(separator: ",")
        out += "]}}"
        return out
    }

    static func object(_ pairs: [(name: String, value: String)]) -> String {
        "{" + pairs.map { json($0.name) + ":" + json($0.value) }.joined(separator: ",") + "}"
    }

    static func json(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    static func esc(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    static func formatDouble(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return r == r.rounded() ? String(Int64(r)) : String(r)
    }

    static func formatDuration(_ d: Duration) -> String {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        if ms % 1000 == 0 {
            let s = ms / 1000
            if s % 3600 == 0 { return "\(s / 3600)h" }
            if s % 60 == 0 { return "\(s / 60)m" }
            return "\(s)s"
        }
        return "\(ms)ms"
    }
}
