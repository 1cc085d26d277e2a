import Logging
import OutpostConfig
import OutpostModel
import ServiceLifecycle
import Synchronization
import Telemetry
import Transport
import WAL

/// One `remote_write` endpoint: its own WAL reader and cursor, batching, encoding, and the retry
/// loop. Endpoints share nothing but the WAL files, so a slow or dead one never holds back another.
///
/// Delivery is at-least-once: the cursor is persisted only after the endpoint acknowledged (or
/// permanently refused) everything before it, so a restart or crash resends at most what was sent
/// since the last persist.
public final class RemoteEndpoint: Service {
    public let config: RemoteWriteConfig
    private let wal: WriteAheadLog
    private let transport: HTTPTransport
    private let status: StatusBoard
    private let logger: Logger
    private let externalLabels: Labels
    private let shuttingDown = Atomic<Bool>(false)
    /// How long a graceful shutdown waits for an in-flight batch.
    public let shutdownGrace: Duration = .seconds(5)
    /// How often the acknowledged cursor is persisted.
    public let persistInterval: Duration = .seconds(5)

    private let samplesTotal: CounterMetric
    private let failedTotal: CounterMetric
    private let retriedTotal: CounterMetric
    private let droppedTooOld: CounterMetric
    private let droppedRelabeled: CounterMetric
    private let droppedUnknown: CounterMetric
    private let bytesTotal: CounterMetric
    private let pendingGauge: GaugeMetric
    private let highestSent: GaugeMetric
    private let shards: GaugeMetric
    private let sendDuration: DurationHistogramMetric

    public init(
        config: RemoteWriteConfig, externalLabels: Labels, wal: WriteAheadLog, transport: HTTPTransport,
        status: StatusBoard, registry: MetricsRegistry, logger: Logger
    ) {
        self.config = config
        self.externalLabels = externalLabels
        self.wal = wal
        self.transport = transport
        self.status = status
        var logger = logger
        logger[metadataKey: "remote_name"] = "\(config.name)"
        logger[metadataKey: "url"] = "\(redactURL(config.url))"
        self.logger = logger
        let labels = [("remote_name", config.name), ("url", redactURL(config.url))]
        samplesTotal = registry.makeCounter(name: MetricName.remoteSamplesTotal, labels: labels)
        failedTotal = registry.makeCounter(name: MetricName.remoteSamplesFailed, labels: labels)
        retriedTotal = registry.makeCounter(name: MetricName.remoteSamplesRetried, labels: labels)
        droppedTooOld = registry.makeCounter(name: MetricName.remoteSamplesDropped, labels: labels + [("reason", "too_old")])
        droppedRelabeled = registry.makeCounter(
            name: MetricName.remoteSamplesDropped, labels: labels + [("reason", "dropped_series")])
        droppedUnknown = registry.makeCounter(
            name: MetricName.remoteSamplesDropped, labels: labels + [("reason", "unknown_series")])
        bytesTotal = registry.makeCounter(name: MetricName.remoteBytesTotal, labels: labels)
        pendingGauge = registry.makeGauge(name: MetricName.remoteSamplesPending, labels: labels)
        highestSent = registry.makeGauge(name: MetricName.remoteHighestSent, labels: labels)
        shards = registry.makeGauge(name: MetricName.remoteShards, labels: labels)
        // Prometheus' buckets for this histogram (the default client buckets times 25).
        sendDuration = registry.makeDurationHistogram(
            name: MetricName.remoteSentBatchDuration, labels: labels,
            buckets: [0.125, 0.25, 0.5, 1.25, 2.5, 6.25, 12.5, 25, 62.5, 125, 250].map { .milliseconds(Int64($0 * 1000)) },
            help: "Duration of send calls to the remote storage.")
    }

    public func run() async throws {
        let loopTask = Task { await self.loop() }
        let grace = shutdownGrace
        await withGracefulShutdownHandler {
            await loopTask.value
        } onGracefulShutdown: {
            self.shuttingDown.store(true, ordering: .relaxed)
            Task {
                try? await Task.sleep(for: grace)
                loopTask.cancel()
            }
        }
    }

    private var stopping: Bool { shuttingDown.load(ordering: .relaxed) || Task.isCancelled }

    private func loop() async {
        shards.set(1.0)
        let start = wal.registerReader(config.name)
        logger.info("remote write starting", metadata: ["cursor": "\(start)"])
        var reader = WALReader(directory: wal.segmentDirectory, position: WALPosition(segment: start.position.segment, offset: 0))
        defer { reader.close() }
        var labels = SeriesLabelCache(externalLabels: externalLabels, writeRelabel: config.writeRelabelConfigs)
        var codec = BatchCodec()
        var scratch: [Sample] = []
        var batch: [Sample] = []
        batch.reserveCapacity(config.queueConfig.maxSamplesPerSend)
        /// Everything before this has been read into `batch` (or needs no sending).
        var consumed = start
        /// Acknowledged (delivered or permanently dropped) up to here.
        var acknowledged = start
        var lastPersisted = start
        let clock = ContinuousClock()
        var lastPersist = clock.now
        var batchStarted: ContinuousClock.Instant? = nil
        let maxBatch = config.queueConfig.maxSamplesPerSend
        let ageLimit = config.queueConfig.sampleAgeLimit.milliseconds
        var stats = EndpointStatus(name: config.name, url: redactURL(config.url))

        while true {
            // The disk budget deleted segments this endpoint had not sent: those samples are counted
            // lost by the WAL, so drop what is held from them and continue where the WAL says.
            if let forced = wal.takeForcedCursor(config.name) {
                logger.warning(
                    "WAL disk budget deleted unsent data; continuing after it", metadata: ["cursor": "\(forced)"])
                stats.lastError = "disk budget exceeded: unsent samples deleted (see outpost_wal_samples_dropped_total)"
                batch.removeAll(keepingCapacity: true)
                batchStarted = nil
                consumed = forced
                acknowledged = forced
                lastPersisted = forced
                reader.close()
                reader = WALReader(directory: wal.segmentDirectory, position: WALPosition(segment: forced.position.segment, offset: 0))
            }
            // Read until the batch is full or the WAL has nothing new.
            var readError: String? = nil
            // Read before reading, so an append during the read wakes the wait below at once.
            let generation = wal.appendGeneration
            let cutoff = ageLimit > 0 ? Timestamp.nowMilliseconds() - ageLimit : Int64.min
            var tooOld = 0
            while batch.count < maxBatch && !stopping {
                let head = wal.head
                var partial: WALPosition? = nil
                let got: Bool
                do {
                    got = try reader.next(head: head, corrupt: { readError = $0 }) { record in
                        switch record.type {
                        case .series:
                            _ = WALCodec.decodeSeries(record.payload) { ref, l in labels.add(ref, l) }
                            if record.start >= consumed.position { consumed = WALCursor(position: record.end, skip: 0) }
                        case .samples:
                            guard record.start >= consumed.position else { return }
                            scratch.removeAll(keepingCapacity: true)
                            guard WALCodec.decodeSamples(record.payload, into: &scratch) else {
                                readError = "segment \(record.start.segment): malformed samples record skipped"
                                consumed = WALCursor(position: record.end, skip: 0)
                                return
                            }
                            let from = record.start == consumed.position ? min(consumed.skip, scratch.count) : 0
                            let take = min(scratch.count - from, maxBatch - batch.count)
                            for sample in scratch[from..<(from + take)] {
                                if sample.timestamp < cutoff { tooOld += 1 } else { batch.append(sample) }
                            }
                            if from + take < scratch.count {
                                consumed = WALCursor(position: record.start, skip: from + take)
                                partial = record.start
                            } else {
                                consumed = WALCursor(position: record.end, skip: 0)
                            }
                        default:
                            if record.start >= consumed.position { consumed = WALCursor(position: record.end, skip: 0) }
                        }
                    }
                } catch {
                    readError = error.description
                    got = false
                }
                if let readError {
                    logger.error("WAL read problem", metadata: ["error": "\(readError)"])
                    stats.lastError = readError
                }
                if let partial { reader.reposition(partial) }
                if !got { break }
                if batchStarted == nil && !batch.isEmpty { batchStarted = clock.now }
            }
            if tooOld > 0 { droppedTooOld.increment(by: Int64(tooOld)) }
            pendingGauge.set(Double(batch.count))

            let deadlinePassed = batchStarted.map { clock.now - $0 >= config.queueConfig.batchSendDeadline } ?? false
            if !batch.isEmpty && (batch.count >= maxBatch || deadlinePassed || stopping) {
                var highest: Int64 = 0
                for s in batch where s.timestamp > highest { highest = s.timestamp }
                switch await deliver(&batch, labels: labels, codec: &codec, stats: &stats) {
                case .done:
                    highestSent.set(Double(highest) / 1000)
                    batch.removeAll(keepingCapacity: true)
                    batchStarted = nil
                    acknowledged = consumed
                    pendingGauge.set(0.0)
                    stats.lagSeconds = max(0, Double(wal.highestTimestamp - highest) / 1000)
                case .superseded:
                    continue  // the top of the loop picks up the forced cursor
                case .abandoned:
                    break
                }
                if stopping && !batch.isEmpty { break }  // shutting down mid-retry: the cursor stays before it
            } else if batch.isEmpty {
                acknowledged = consumed
            }
            if acknowledged != lastPersisted && (clock.now - lastPersist >= persistInterval || stopping) {
                persist(acknowledged)
                lastPersisted = acknowledged
                lastPersist = clock.now
            }
            stats.pending = batch.count
            stats.cursor = acknowledged.description
            let snapshot = stats
            status.updateEndpoint(config.name, url: snapshot.url) { $0 = snapshot }
            if stopping && batch.isEmpty { break }
            if stopping && Task.isCancelled { break }
            // Nothing more to read right now: wait for the next append, or the batch's deadline.
            if batch.count < maxBatch {
                let wait: Duration = batchStarted.map {
                    max(.milliseconds(1), min(.seconds(1), config.queueConfig.batchSendDeadline - (clock.now - $0)))
                } ?? .seconds(1)
                await wal.waitForAppend(after: generation, timeout: wait)
            }
        }
        if acknowledged != lastPersisted { persist(acknowledged) }
        let snapshot = stats
        status.updateEndpoint(config.name, url: snapshot.url) { $0 = snapshot }
        logger.info("remote write stopped", metadata: ["cursor": "\(acknowledged)", "unsent": "\(batch.count)"])
    }

    private func persist(_ cursor: WALCursor) {
        do {
            try wal.commit(reader: config.name, cursor: cursor)
        } catch {
            logger.error("persisting WAL cursor failed", metadata: ["error": "\(error)"])
        }
    }

    enum Delivery {
        /// Delivered, or refused for good (and counted): move on.
        case done
        /// The disk budget deleted the data under this batch.
        case superseded
        /// Shutdown interrupted the retries: the batch stays in the WAL for the next start.
        case abandoned
    }

    /// Reused buffers for encoding and compressing a batch.
    struct BatchCodec {
        var encoder = WriteRequestEncoder()
        var compressed: [UInt8] = []
    }

    /// Sends one batch until it is delivered or refused for good. Samples whose series write
    /// relabeling dropped, or whose series is unknown, are removed and counted first; with
    /// `sample_age_limit`, samples that grow too old while retrying are removed and counted too.
    private func deliver(
        _ batch: inout [Sample], labels: SeriesLabelCache, codec: inout BatchCodec, stats: inout EndpointStatus
    ) async -> Delivery {
        var relabeled = 0
        var unknown = 0
        batch.removeAll { sample in
            if labels.isDropped(sample.ref) {
                relabeled += 1
                return true
            }
            if !labels.isKnown(sample.ref) {
                unknown += 1
                return true
            }
            return false
        }
        if relabeled > 0 { droppedRelabeled.increment(by: Int64(relabeled)) }
        if unknown > 0 {
            droppedUnknown.increment(by: Int64(unknown))
            logger.warning("samples of unknown series dropped", metadata: ["samples": "\(unknown)"])
        }
        let headers: [(String, String)] =
            [
                ("Content-Encoding", "snappy"), ("Content-Type", "application/x-protobuf"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"), ("User-Agent", BuildInfo.userAgent),
            ] + config.headers
        let q = config.queueConfig
        var backoff: Duration = .zero
        var encodedCount = -1
        var counted = false
        while true {
            if q.sampleAgeLimit > .zero {
                let cutoff = Timestamp.nowMilliseconds() - q.sampleAgeLimit.milliseconds
                let before = batch.count
                batch.removeAll { $0.timestamp < cutoff }
                if batch.count < before { droppedTooOld.increment(by: Int64(before - batch.count)) }
            }
            if batch.isEmpty { return .done }
            if batch.count != encodedCount {
                _ = codec.encoder.encode(batch, labels: labels)
                Snappy.compress(codec.encoder.buffer, into: &codec.compressed)
                encodedCount = batch.count
            }
            if !counted {
                samplesTotal.increment(by: Int64(batch.count))
                counted = true
            }
            var statusCode: Int? = nil
            var retryAfter: Duration? = nil
            var message = ""
            let sendStarted = ContinuousClock.now
            defer { sendDuration.record(ContinuousClock.now - sendStarted) }
            do {
                let r = try await transport.post(
                    url: config.url, headers: headers, body: codec.compressed, timeout: config.remoteTimeout)
                statusCode = r.status
                retryAfter = SendDecision.parseRetryAfter(r.header("Retry-After"))
                if !(200..<300).contains(r.status) {
                    message = "server returned HTTP status \(r.status): \(r.body.prefixString(256))"
                }
            } catch {
                message = error.description
            }
            switch SendDecision.decide(
                status: statusCode, retryAfter: retryAfter, previous: backoff, minBackoff: q.minBackoff,
                maxBackoff: q.maxBackoff)
            {
            case .delivered:
                bytesTotal.increment(by: Int64(codec.compressed.count))
                stats.samplesSent += Int64(batch.count)
                stats.lastSuccess = Timestamp.nowMilliseconds()
                stats.lastError = ""
                return .done
            case .drop:
                failedTotal.increment(by: Int64(batch.count))
                stats.samplesFailed += Int64(batch.count)
                stats.lastError = message
                logger.error(
                    "non-recoverable error, samples dropped", metadata: ["samples": "\(batch.count)", "error": "\(message)"])
                return .done
            case .retry(let next):
                if stopping { return .abandoned }
                retriedTotal.increment(by: Int64(batch.count))
                stats.samplesRetried += Int64(batch.count)
                stats.lastError = message
                let snapshot = stats
                status.updateEndpoint(config.name, url: snapshot.url) { $0 = snapshot }
                logger.warning("send failed, retrying", metadata: ["error": "\(message)", "backoff": "\(next)"])
                backoff = next
                // Sleep in short steps so shutdown and the disk budget are noticed promptly.
                let clock = ContinuousClock()
                let until = clock.now + next
                while clock.now < until {
                    if stopping { return .abandoned }
                    if wal.hasForcedCursor(config.name) { return .superseded }
                    try? await Task.sleep(for: min(.milliseconds(200), until - clock.now))
                }
                if wal.hasForcedCursor(config.name) { return .superseded }
            }
        }
    }
}
