import OutpostModel
import Yams

#if canImport(Glibc)
import Glibc
#endif

/// ServiceMonitor and PodMonitor documents (`monitoring.coreos.com/v1`) read from a directory
/// and turned into scrape jobs the way prometheus-operator turns them into Prometheus
/// configuration: the same job names, `kubernetes_sd_configs`, generated relabel rules (selector,
/// port, namespace/service/pod/container/endpoint/job labels, target labels, sharding) and
/// endpoint fields. Jobs are produced as YAML nodes and then read by the same parser as the
/// configuration file's own jobs, so `outpost check config --print` shows exactly what runs.
public struct MonitorSettings: Sendable {
    /// The directory of monitor documents (`--monitors.dir`).
    public var directory: String
    /// Where secrets and config maps the monitors refer to are mounted: `<dir>/secret/<namespace>/<name>/<key>`
    /// and `<dir>/configmap/<namespace>/<name>/<key>` (`--monitors.secrets-dir`).
    public var secretsDirectory = "/etc/outpost/monitor-secrets"
    /// A kubeconfig the monitors' discovery uses instead of the pod's service account
    /// (`--monitors.kubeconfig`): for an Outpost running outside the cluster it watches.
    public var kubeconfig: String? = nil
    /// DaemonSet mode: only PodMonitors, for this node's pods.
    public var nodeName: String? = nil
    /// This replica's shard and the number of shards (`--cluster.*`).
    public var shard = 0
    public var shards = 1
    public init(directory: String) { self.directory = directory }
}

/// One generated job and the monitor it came from.
public struct MonitorJob {
    public var node: Node
    /// `ServiceMonitor shop/checkout` — for messages.
    public var origin: String
    public var file: String
    /// The line of the endpoint it was made from.
    public var line: Int
}

/// A monitor that could not be turned into jobs, as prometheus-operator rejects it: skipped, with the reason.
public struct MonitorRejection: Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }
}

public enum Monitors {
    /// Every monitor document in `settings.directory` (files ending in .yaml, .yml or .json, in
    /// name order), turned into jobs: PodMonitors first, then ServiceMonitors, each kind sorted by
    /// namespace/name, as prometheus-operator orders an agent's jobs.
    public static func jobs(_ settings: MonitorSettings) throws(ConfigError) -> (jobs: [MonitorJob], rejected: [MonitorRejection]) {
        var docs: [(kind: String, key: String, node: Node, file: String)] = []
        var rejected: [MonitorRejection] = []
        for file in try files(in: settings.directory) {
            guard let text = ConfigLoader.readFile(file) else { throw ConfigError(file: file, line: 0, message: "cannot read file") }
            let nodes: [Node]
            do {
                nodes = Array(try Yams.compose_all(yaml: text))
            } catch let error as YamlError {
                throw ConfigLoader.yamlError(error, file: file)
            } catch {
                throw ConfigError(file: file, line: 0, message: "\(error)")
            }
            for node in nodes {
                guard case .mapping(let m) = node else { continue }
                let kind = m["kind"]?.string ?? ""
                guard kind == "ServiceMonitor" || kind == "PodMonitor" else { continue }
                let api = m["apiVersion"]?.string ?? ""
                guard api == "monitoring.coreos.com/v1" else {
                    rejected.append(.init(file: file, line: node.mark?.line ?? 0, message: "\(kind) with apiVersion \"\(api)\": only monitoring.coreos.com/v1 is read"))
                    continue
                }
                let meta = m["metadata"]
                let name = meta?.mapping?["name"]?.string ?? ""
                let namespace = meta?.mapping?["namespace"]?.string ?? "default"
                docs.append((kind, namespace + "/" + name, node, file))
            }
        }
        docs.sort { ($0.kind == "PodMonitor" ? 0 : 1, $0.key) < ($1.kind == "PodMonitor" ? 0 : 1, $1.key) }
        var jobs: [MonitorJob] = []
        for d in docs {
            do throws(ConfigError) {
                if d.kind == "ServiceMonitor" && settings.nodeName != nil {
                    throw ConfigError(
                        file: d.file, line: d.node.mark?.line ?? 0,
                        message: "ServiceMonitor \(d.key) refused: in DaemonSet mode (--kubernetes.node-local) only PodMonitors are read, because every node watching every endpoint would overload the API server; run a Deployment for ServiceMonitors")
                }
                let generator = try MonitorGenerator(node: d.node, kind: d.kind, file: d.file, settings: settings)
                jobs += try generator.jobs().map { MonitorJob(node: $0.node, origin: "\(d.kind) \(d.key)", file: d.file, line: $0.line) }
            } catch {
                rejected.append(.init(file: error.file, line: error.line, message: error.message))
            }
        }
        return (jobs, rejected)
    }

    static func files(in dir: String) throws(ConfigError) -> [String] {
        guard let names = directoryEntries(dir) else {
            throw ConfigError(file: dir, line: 0, message: "cannot read the monitors directory")
        }
        return names.filter { name in !name.hasPrefix(".") && [".yaml", ".yml", ".json"].contains { name.hasSuffix($0) } }
            .map { dir.hasSuffix("/") ? dir + $0 : dir + "/" + $0 }
    }
}

/// The names in a directory (without `.` and `..`), sorted; nil if it cannot be read.
func directoryEntries(_ dir: String) -> [String]? {
    guard let d = opendir(dir) else { return nil }
    defer { closedir(d) }
    var out: [String] = []
    while let entry = readdir(d) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { out.append(name) }
    }
    return out.sorted()
}

/// Names, sizes and modification times of a directory's files (following the symlinks a mounted
/// ConfigMap uses), to notice any change.
public enum MonitorDirectoryStamp {
    public static func read(_ dir: String) -> [String] {
        (directoryEntries(dir) ?? []).compactMap { name in
            var st = stat()
            guard stat(dir + "/" + name, &st) == 0 else { return nil }
            return "\(name) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ino)"
        }
    }
}
