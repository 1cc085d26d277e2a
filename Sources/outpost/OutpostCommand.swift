import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import OutpostConfig
import WAL
import Telemetry

/// The process' entry: Swift concurrency's tasks run on NIO's event loops (one thread a core),
/// so a scrape or a send that awaits network I/O resumes on the thread that did the I/O instead
/// of being handed to another pool's thread: fewer thread wake-ups per scrape.
@main
enum Main {
    static func main() {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        Task {
            await OutpostCommand.main()
            exit(0)
        }
        dispatchMain()
    }
}

/// `outpost`: with no subcommand, runs the agent (as `prometheus --agent` does).
struct OutpostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outpost",
        abstract: "Prometheus agent-mode forwarder: scrape, write to a WAL, remote-write outward.",
        discussion: "`outpost --config.file=FILE ...` runs the agent; `outpost agent --help` lists its flags.",
        version: BuildInfo.version,
        subcommands: [AgentCommand.self, CheckCommand.self, WALCommand.self],
        defaultSubcommand: AgentCommand.self)
}

/// The agent itself: what `outpost --config.file=…` runs.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Run the agent (the default when no subcommand is given).")

    @OptionGroup var agent: AgentOptions

    func run() async throws {
        let logger = LogSetup.bootstrap(level: agent.logLevel, format: agent.logFormat)
        let config: OutpostConfiguration
        do {
            config = try agent.deployment().load(agent.configFile)
        } catch {
            logger.error("error loading config", metadata: ["file": "\(agent.configFile)", "err": "\(error)"])
            printError("\(error)")
            throw ExitCode(1)
        }
        do {
            let app = try buildApplication(options: agent, config: config, logger: logger)
            try await app.run()
        } catch let error as ExitCode {
            throw error
        } catch {
            logger.critical("outpost stopped with an error", metadata: ["err": "\(error)"])
            throw ExitCode(1)
        }
    }
}

/// The agent's flags, with Prometheus' names and defaults.
struct AgentOptions: ParsableArguments {
    @Option(name: .customLong("config.file"), help: "Configuration file path.")
    var configFile = "prometheus.yml"

    @Option(name: .customLong("storage.agent.path"), help: "Base path for the WAL and cursors.")
    var storagePath = "data-agent/"

    @Option(name: .customLong("storage.agent.wal-sync-interval"), help: "How often the WAL is fsynced (group commit).")
    var walSyncInterval = "1s"

    @Option(name: .customLong("storage.agent.wal-segment-size"), help: "Size at which a WAL segment is closed.")
    var walSegmentSize = "128MB"

    @Option(
        name: .customLong("storage.agent.max-disk-bytes"),
        help: "Disk budget for the WAL (e.g. 10GB); over it the oldest unsent data is dropped and counted. 0: none.")
    var maxDiskBytes = "0"

    @Option(name: .customLong("web.listen-address"), help: "Address to listen on for the web interface and telemetry.")
    var listenAddress = "0.0.0.0:9090"

    @Flag(name: .customLong("web.enable-lifecycle"), help: "Enable reload via HTTP POST to /-/reload.")
    var enableLifecycle = false

    @Flag(
        name: .customLong("kubernetes.node-local"),
        help: "DaemonSet mode: discover only the pods of this node (its name from the NODE_NAME environment variable).")
    var nodeLocal = false

    @Option(name: .customLong("cluster.members-count"), help: "Replicas sharing the targets (by hash of the target address).")
    var clusterMembers = 1

    @Option(name: .customLong("cluster.member-num"), help: "This replica's number, from 0 to members-count - 1.")
    var clusterMember = 0

    @OptionGroup var monitors: MonitorOptions

    /// The deployment the flags describe.
    func deployment() throws(ConfigError) -> DeploymentSettings {
        var d = try DeploymentSettings.make(
            nodeLocal: nodeLocal, members: clusterMembers, member: clusterMember,
            environment: ProcessInfo.processInfo.environment)
        monitors.apply(to: &d)
        return d
    }

    @Option(name: .customLong("log.level"), help: "Only log messages at or above: debug, info, warn, error.")
    var logLevel = "info"

    @Option(name: .customLong("log.format"), help: "Output format of log messages: logfmt or json.")
    var logFormat = "logfmt"

    func validate() throws {
        guard ["debug", "info", "warn", "error"].contains(logLevel) else {
            throw ValidationError("--log.level must be one of debug, info, warn, error; got \"\(logLevel)\"")
        }
        guard ["logfmt", "json"].contains(logFormat) else {
            throw ValidationError("--log.format must be logfmt or json; got \"\(logFormat)\"")
        }
        guard PromDuration.parse(walSyncInterval).map({ $0 > .zero }) == true else {
            throw ValidationError("--storage.agent.wal-sync-interval: not a valid duration: \"\(walSyncInterval)\"")
        }
        guard maxDiskBytes == "0" || parseBytes(maxDiskBytes) != nil else {
            throw ValidationError("--storage.agent.max-disk-bytes: not a valid size: \"\(maxDiskBytes)\"")
        }
        guard parseBytes(walSegmentSize) != nil else {
            throw ValidationError("--storage.agent.wal-segment-size: not a valid size: \"\(walSegmentSize)\"")
        }
    }
}

/// Where ServiceMonitor and PodMonitor documents and the secrets they refer to are found.
struct MonitorOptions: ParsableArguments {
    @Option(
        name: .customLong("monitors.dir"),
        help: "Directory of ServiceMonitor and PodMonitor documents (monitoring.coreos.com/v1) to scrape as prometheus-operator would; re-read when it changes.")
    var directory: String?

    @Option(
        name: .customLong("monitors.secrets-dir"),
        help: "Where the Secrets and ConfigMaps monitors refer to are mounted: DIR/secret/NAMESPACE/NAME/KEY, DIR/configmap/NAMESPACE/NAME/KEY.")
    var secretsDirectory = MonitorSettings(directory: "").secretsDirectory

    @Option(
        name: .customLong("monitors.kubeconfig"),
        help: "Kubeconfig for the monitors' discovery, instead of the pod's service account (Outpost outside the cluster).")
    var kubeconfig: String?

    func apply(to d: inout DeploymentSettings) {
        d.monitorsDirectory = directory
        d.monitorSecretsDirectory = secretsDirectory
        d.monitorKubeconfig = kubeconfig.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
    }
}

/// Parses `512KB`, `64MB`, `1GB` (powers of 1024, as Prometheus' units flags) or a plain byte count.
func parseBytes(_ text: String) -> Int64? {
    let units: [(String, Int64)] = [("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("B", 1)]
    for (suffix, size) in units where text.hasSuffix(suffix) {
        guard let n = Int64(text.dropLast(suffix.count)), n > 0 else { return nil }
        return n * size
    }
    guard let n = Int64(text), n > 0 else { return nil }
    return n
}

/// `outpost check config [--print] FILE...`
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Check the resources for validity.", subcommands: [CheckConfig.self])
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check if the config files are valid or not.")

    @Flag(name: .customLong("print"), help: "Print the effective scrape configuration (the file's jobs and the monitors' jobs) as Prometheus YAML, secrets redacted.")
    var print = false

    @OptionGroup var monitors: MonitorOptions

    @Argument(help: "Configuration files to check.")
    var files: [String]

    func run() async throws {
        var failed = false
        var deployment = DeploymentSettings()
        monitors.apply(to: &deployment)
        for file in files {
            do {
                let config = try deployment.load(file)
                for r in config.monitorRejections {
                    printError("\(r)")
                    failed = true
                }
                if print {
                    Swift.print(ConfigPrinter.scrapeConfigs(config), terminator: "")
                } else {
                    Swift.print("Checking \(file)")
                    Swift.print("  SUCCESS: \(file) is valid: \(config.scrapeConfigs.count) scrape configs, "
                        + "\(config.remoteWrite.count) remote write endpoints")
                }
            } catch {
                printError("\(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

/// `outpost wal inspect --storage.agent.path DIR`
struct WALCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal", abstract: "Look into the write-ahead log.", subcommands: [WALInspect.self])
}

struct WALInspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Print segments, records, series, sample times and cursor positions (read-only).")

    @Option(name: .customLong("storage.agent.path"), help: "The agent's data directory.")
    var storagePath = "data-agent/"

    func run() async throws {
        print(WALInspector.report(path: storagePath), terminator: "")
    }
}
