import Logging
import Synchronization
import OutpostModel
import Telemetry

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes log lines to stderr in Prometheus' formats: logfmt (`ts=… level=info msg="…" k=v`) or JSON.
struct OutpostLogHandler: LogHandler {
    enum Format: Sendable { case logfmt, json }
    let label: String
    let format: Format
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    private static let lock = Mutex(())

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("ts", RFC3339.format(milliseconds: Timestamp.nowMilliseconds())),
            ("level", Self.levelName(event.level)),
            ("msg", event.message.description),
        ]
        for (k, v) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, b in b }).sorted(by: { $0.key < $1.key }) {
            fields.append((k, "\(v)"))
        }
        var line = ""
        switch format {
        case .logfmt:
            line = fields.map { "\($0.0)=\(Self.logfmtValue($0.1))" }.joined(separator: " ")
        case .json:
            line = "{" + fields.map { "\(Self.jsonString($0.0)):\(Self.jsonString($0.1))" }.joined(separator: ",") + "}"
        }
        line += "\n"
        Self.lock.withLock { _ in
            writeStderr(line)
        }
    }

    static func levelName(_ l: Logger.Level) -> String {
        switch l {
        case .trace, .debug: "debug"
        case .info, .notice: "info"
        case .warning: "warn"
        case .error, .critical: "error"
        }
    }

    static func logfmtValue(_ s: String) -> String {
        let needsQuotes = s.isEmpty || s.contains(where: { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\n" })
        guard needsQuotes else { return s }
        return "\"" + s.replacingAll("\\", "\\\\").replacingAll("\"", "\\\"").replacingAll("\n", "\\n") + "\""
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 { out += "\\u00" + (u.value < 16 ? "0" : "") + String(u.value, radix: 16) } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

extension String {
    func replacingAll(_ target: Character, _ replacement: String) -> String {
        var out = ""
        for c in self {
            if c == target { out += replacement } else { out.append(c) }
        }
        return out
    }
}

enum LogSetup {
    /// Installs the handler for the whole process and returns the root logger.
    static func bootstrap(level: String, format: String) -> Logger {
        let lvl: Logger.Level =
            switch level {
            case "debug": .debug
            case "warn": .warning
            case "error": .error
            default: .info
            }
        let fmt: OutpostLogHandler.Format = format == "json" ? .json : .logfmt
        LoggingSystem.bootstrap { label in OutpostLogHandler(label: label, format: fmt, logLevel: lvl) }
        return Logger(label: "outpost")
    }
}

func printError(_ message: String) {
    writeStderr(message + "\n")
}

/// One `write(2)` to file descriptor 2, so concurrent lines never interleave mid-line.
func writeStderr(_ text: String) {
    var text = text
    text.withUTF8 { p in
        guard let base = p.baseAddress else { return }
        var done = 0
        while done < p.count {
            let n = write(2, base + done, p.count - done)
            if n <= 0 { return }
            done += n
        }
    }
}
