import Logging
import Synchronization
import OutpostConfig
import OutpostModel
import RemoteWrite
import Scrape
import ServiceLifecycle
import Telemetry
import Transport
import UnixSignals
import WAL
import Web

/// Wires the stages into one service group. The WAL is opened (repaired, replayed) before any
/// service starts, so the HTTP port opens — and `/-/ready` answers — only once replay is done.
///
/// Shutdown runs in reverse order: HTTP, scraping, WAL sync and close, then remote-write gets a
/// short grace period to deliver what is in flight; the rest stays in the WAL for the next start.
func buildApplication(options: AgentOptions, config: OutpostConfiguration, logger: Logger) throws -> ServiceGroup {
    guard let listen = WebServer.parseListenAddress(options.listenAddress) else {
        throw ConfigError(file: "--web.listen-address", line: 0, message: "invalid address \"\(options.listenAddress)\"")
    }
    for r in config.monitorRejections {
        logger.error("monitor skipped", metadata: ["err": "\(r)"])
    }
    let registry = MetricsRegistry()
    let status = StatusBoard(
        version: BuildInfo.version, configFile: options.configFile, startTime: Timestamp.nowMilliseconds())
    registry.makeGauge(name: MetricName.buildInfo, labels: [("version", BuildInfo.version)]).set(1.0)

    var walOptions = WriteAheadLog.Options(directory: options.storagePath)
    walOptions.segmentSize = parseBytes(options.walSegmentSize) ?? walOptions.segmentSize
    walOptions.maxDiskBytes = options.maxDiskBytes == "0" ? 0 : parseBytes(options.maxDiskBytes) ?? 0
    logger.info("opening WAL", metadata: ["path": "\(options.storagePath)"])
    let wal = try WriteAheadLog(options: walOptions, registry: registry, status: status, logger: logger)
    wal.releaseReaders(except: Set(config.remoteWrite.map(\.name)))

    let transport = HTTPTransport()
    var endpoints: [RemoteEndpoint] = []
    for remote in config.remoteWrite {
        let settings: HTTPClientSettings
        do {
            settings = try transport.settings(for: remote.http)
        } catch {
            throw ConfigError(file: config.file, line: 0, message: "remote_write \"\(remote.name)\": \(error.message)")
        }
        endpoints.append(
            RemoteEndpoint(
                config: remote, externalLabels: config.global.externalLabels, wal: wal, transport: transport,
                settings: settings, status: status, registry: registry, logger: logger))
    }
    for job in config.scrapeConfigs {
        do {
            _ = try transport.settings(for: job.http)
        } catch {
            throw ConfigError(file: config.file, line: 0, message: "scrape job \"\(job.jobName)\": \(error.message)")
        }
    }
    let scrape = ScrapeManager(
        config: config, wal: wal, transport: transport, status: status, registry: registry, logger: logger)
    let reloader = ConfigReloader(
        path: options.configFile, deployment: try options.deployment(), current: config, scrape: scrape, registry: registry,
        logger: logger)
    var reload: (@Sendable () async -> String?)? = nil
    if options.enableLifecycle { reload = { await reloader.reload() } }
    let web = WebServer.make(
        host: listen.host, port: listen.port, registry: registry, status: status, reload: reload, logger: logger)
    let syncInterval = PromDuration.parse(options.walSyncInterval) ?? .seconds(1)

    var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
        .init(service: TransportService(transport: transport))
    ]
    services += endpoints.map { .init(service: $0) }
    services.append(.init(service: WALService(wal: wal, interval: syncInterval, logger: logger)))
    services.append(.init(service: scrape))
    services.append(.init(service: reloader))
    services.append(.init(service: web))
    logger.info(
        "starting Outpost",
        metadata: ["version": "\(BuildInfo.version)", "listen": "\(options.listenAddress)",
                   "targets": "\(ScrapeManager.targets(for: config).active.count)", "remote_write": "\(endpoints.count)"])
    var groupConfig = ServiceGroupConfiguration(services: services, logger: logger)
    groupConfig.gracefulShutdownSignals = [.sigterm, .sigint]
    return ServiceGroup(configuration: groupConfig)
}

/// Syncs the WAL every interval (group commit) and closes it at shutdown, after scraping stopped.
struct WALService: Service {
    let wal: WriteAheadLog
    let interval: Duration
    let logger: Logger

    func run() async throws {
        let wal = wal
        let interval = interval
        let logger = logger
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await LoopTimer.sleep(for: interval)
                do { try wal.sync() } catch { logger.error("WAL sync failed", metadata: ["err": "\(error)"]) }
                wal.publishStatus()
            }
        }
        do { try wal.sync() } catch { logger.error("WAL sync failed", metadata: ["err": "\(error)"]) }
        wal.close()
        logger.info("WAL closed")
    }
}

/// Keeps the shared HTTP client alive until everything using it has stopped.
struct TransportService: Service {
    let transport: HTTPTransport
    func run() async throws {
        try? await gracefulShutdown()
        await transport.shutdown()
    }
}

/// Re-reads the configuration on SIGHUP or `POST /-/reload`; a bad file keeps the running one.
final class ConfigReloader: Service {
    let path: String
    let deployment: DeploymentSettings
    let scrape: ScrapeManager
    let logger: Logger
    let success: GaugeMetric
    let successTime: GaugeMetric
    private let lock = Mutex<OutpostConfiguration>(OutpostConfiguration())

    init(
        path: String, deployment: DeploymentSettings, current: OutpostConfiguration, scrape: ScrapeManager,
        registry: MetricsRegistry, logger: Logger
    ) {
        self.path = path
        self.deployment = deployment
        self.scrape = scrape
        self.logger = logger
        success = registry.makeGauge(name: MetricName.configLastReloadSuccessful)
        successTime = registry.makeGauge(name: MetricName.configLastReloadSuccessTimestamp)
        success.set(1.0)
        successTime.set(Double(Timestamp.nowMilliseconds() / 1000))
        lock.withLock { $0 = current }
    }

    /// Reloads; returns the error text, or nil on success.
    func reload() async -> String? {
        do {
            let config = try deployment.load(path)
            for r in config.monitorRejections {
                logger.error("monitor skipped", metadata: ["err": "\(r)"])
            }
            let old = lock.withLock { $0 }
            if config.remoteWrite.map(\.url) != old.remoteWrite.map(\.url)
                || config.remoteWrite.map(\.name) != old.remoteWrite.map(\.name)
            {
                logger.warning("remote_write changes take effect at the next restart; scrape changes applied now")
            }
            try scrape.apply(config)
            lock.withLock { $0 = config }
            success.set(1.0)
            successTime.set(Double(Timestamp.nowMilliseconds() / 1000))
            logger.info("completed loading of configuration file", metadata: ["file": "\(path)"])
            return nil
        } catch {
            success.set(0.0)
            logger.error("error reloading config, keeping the running one", metadata: ["err": "\(error)"])
            return "\(error)"
        }
    }

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await withTaskGroup(of: Void.self) { group in
            // Monitor documents change under a mounted ConfigMap: reload when any file of the
            // monitors directory in force does.
            group.addTask { [self] in
                var dir = self.lock.withLock { $0.monitorSettings?.directory }
                var last = dir.map(MonitorDirectoryStamp.read)
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(2))
                    let current = self.lock.withLock { $0.monitorSettings?.directory }
                    if current != dir {
                        dir = current
                        last = dir.map(MonitorDirectoryStamp.read)
                        continue
                    }
                    guard let dir else { continue }
                    let now = MonitorDirectoryStamp.read(dir)
                    if now != last {
                        last = now
                        self.logger.info("monitor documents changed, reloading", metadata: ["dir": "\(dir)"])
                        _ = await self.reload()
                    }
                }
            }
            group.addTask {
                for await _ in signals.cancelOnGracefulShutdown() {
                    _ = await self.reload()
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
}

