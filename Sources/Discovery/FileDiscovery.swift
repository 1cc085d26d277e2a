import Foundation
import Logging
import OutpostConfig
import Telemetry
import Yams

/// `file_sd_configs`: reads the JSON and YAML files its patterns match. Files are checked for a
/// change (size, modification time, inode) every second and read in full every
/// `refresh_interval`; a file that disappears removes its targets, and a file that fails to parse
/// keeps the targets it had (the error is logged, counted and shown on `/status`).
struct FileDiscovery: DiscoveryProvider {
    let config: FileSDConfig
    let context: DiscoveryContext
    let statusKey: String
    let job: String
    var pollInterval: Duration = .seconds(1)

    private struct Seen: Equatable {
        var size: Int64
        var mtime: Int64
        var inode: UInt64
    }

    func run(_ send: @escaping @Sendable ([TargetGroup]) -> Void) async {
        let errors = context.registry.makeCounter(name: "prometheus_sd_file_read_errors_total")
        let reporter = DiscoveryReporter(
            status: context.status, key: statusKey,
            initial: DiscoveryStatus(job: job, mechanism: "file_sd", source: config.files.joined(separator: ", ")))
        var seen: [String: Seen] = [:]
        var groupCounts: [String: Int] = [:]
        var targetCounts: [String: Int] = [:]
        var lastFull = ContinuousClock.now
        var first = true
        while !Task.isCancelled {
            let full = first || ContinuousClock.now - lastFull >= config.refreshInterval
            if full { lastFull = ContinuousClock.now }
            var update: [TargetGroup] = []
            var current: Set<String> = []
            var failure: String? = nil
            for path in config.files.flatMap(Self.expand) {
                current.insert(path)
                guard let stamp = Self.stamp(of: path) else { continue }
                if !full && seen[path] == stamp { continue }
                seen[path] = stamp
                do {
                    let groups = try Self.read(path)
                    update += groups
                    // Groups the file no longer has are removed.
                    for i in groups.count..<max(groups.count, groupCounts[path] ?? 0) {
                        update.append(TargetGroup(source: "\(path):\(i)", targets: [], labels: []))
                    }
                    groupCounts[path] = groups.count
                    targetCounts[path] = groups.reduce(0) { $0 + $1.targets.count }
                } catch {
                    // Read again when the file changes, or at the next full refresh.
                    errors.increment()
                    failure = "\(error)"
                    context.logger.error(
                        "error reading file_sd file, keeping its previous targets",
                        metadata: ["job": "\(job)", "file": "\(path)", "err": "\(error)"])
                }
            }
            for (path, n) in groupCounts where !current.contains(path) {
                for i in 0..<n { update.append(TargetGroup(source: "\(path):\(i)", targets: [], labels: [])) }
                groupCounts[path] = nil
                targetCounts[path] = nil
                seen[path] = nil
            }
            if !update.isEmpty || first { send(update) }
            if !update.isEmpty || failure != nil || first {
                reporter.refreshed(targets: targetCounts.values.reduce(0, +), error: failure ?? "")
            }
            first = false
            try? await Task.sleep(for: pollInterval)
        }
    }

    /// The files a pattern names now: itself, or its glob's matches in sorted order.
    static func expand(_ pattern: String) -> [String] {
        guard pattern.contains("*") || pattern.contains("?") || pattern.contains("[") else { return [pattern] }
        var g = glob_t()
        defer { globfree(&g) }
        guard glob(pattern, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
        }
        return out.sorted()
    }

    private static func stamp(of path: String) -> Seen? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Seen(
            size: Int64(st.st_size), mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
            inode: UInt64(st.st_ino))
    }

    /// The target groups of one file, each labelled with `__meta_filepath`.
    static func read(_ path: String) throws(DiscoveryError) -> [TargetGroup] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DiscoveryError("\(path): cannot read file")
        }
        let lower = path.lowercased()
        var groups: [TargetGroup]
        if lower.hasSuffix(".json") {
            groups = try TargetGroupDecoding.json(data, origin: path)
        } else {
            groups = try TargetGroupDecoding.yaml(String(decoding: data, as: UTF8.self), origin: path)
        }
        for i in groups.indices {
            groups[i].source = "\(path):\(i)"
            groups[i].labels.append(("__meta_filepath", path))
        }
        return groups
    }
}

/// A discovery failure, with a message fit for the log and `/status`.
struct DiscoveryError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Target groups as file_sd and http_sd read them: a list of `{targets: [...], labels: {...}}`.
enum TargetGroupDecoding {
    static func json(_ data: Data, origin: String) throws(DiscoveryError) -> [TargetGroup] {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw DiscoveryError("\(origin): invalid JSON: \(detail)")
        }
        guard let list = value as? [Any] else { throw DiscoveryError("\(origin): expected a JSON list of target groups") }
        var out: [TargetGroup] = []
        for (i, item) in list.enumerated() {
            guard let object = item as? [String: Any] else {
                throw DiscoveryError("\(origin): target group \(i) is not an object")
            }
            var group = TargetGroup(source: "", targets: [], labels: [])
            if let targets = object["targets"] {
                guard let strings = targets as? [String] else {
                    throw DiscoveryError("\(origin): target group \(i): targets must be a list of strings")
                }
                group.targets = strings.map { [("__address__", $0)] }
            }
            if let labels = object["labels"] {
                guard let map = labels as? [String: Any] else {
                    throw DiscoveryError("\(origin): target group \(i): labels must be an object of strings")
                }
                for (name, v) in map.sorted(by: { $0.key < $1.key }) {
                    guard let value = v as? String else {
                        throw DiscoveryError("\(origin): target group \(i): label \"\(name)\" must be a string")
                    }
                    guard !name.isEmpty else { throw DiscoveryError("\(origin): target group \(i): empty label name") }
                    group.labels.append((name, value))
                }
            }
            out.append(group)
        }
        return out
    }

    static func yaml(_ text: String, origin: String) throws(DiscoveryError) -> [TargetGroup] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw DiscoveryError("\(origin): invalid YAML: \(error)")
        }
        guard let root else { return [] }
        guard case .sequence(let seq) = root else {
            throw DiscoveryError("\(origin):\(root.mark?.line ?? 0): expected a list of target groups")
        }
        var out: [TargetGroup] = []
        for item in seq {
            let line = item.mark?.line ?? 0
            guard case .mapping(let m) = item else {
                throw DiscoveryError("\(origin):\(line): a target group must be a mapping")
            }
            var group = TargetGroup(source: "", targets: [], labels: [])
            for (k, v) in m {
                let keyLine = k.mark?.line ?? line
                switch k.string {
                case "targets":
                    guard case .sequence(let ts) = v else {
                        throw DiscoveryError("\(origin):\(keyLine): targets must be a list of strings")
                    }
                    for t in ts {
                        guard case .scalar(let s) = t else {
                            throw DiscoveryError("\(origin):\(keyLine): targets must be a list of strings")
                        }
                        group.targets.append([("__address__", s.string)])
                    }
                case "labels":
                    if case .scalar(let s) = v, ["", "~", "null"].contains(s.string) { continue }
                    guard case .mapping(let labels) = v else {
                        throw DiscoveryError("\(origin):\(keyLine): labels must be a mapping of strings")
                    }
                    for (ln, lv) in labels {
                        guard case .scalar(let name) = ln, case .scalar(let value) = lv, !name.string.isEmpty else {
                            throw DiscoveryError("\(origin):\(ln.mark?.line ?? keyLine): labels must be a mapping of strings")
                        }
                        group.labels.append((name.string, value.string))
                    }
                default:
                    throw DiscoveryError("\(origin):\(keyLine): field \(k.string ?? "?") not found in target group")
                }
            }
            out.append(group)
        }
        return out
    }
}
