import Logging
import OutpostConfig
import OutpostModel
import ServiceLifecycle
import Synchronization
import Telemetry
import Transport
import WAL

/// One `remote_write` endpoint: its own WAL reader and cursor, shards, encoding, and retry loops.
/// Endpoints share nothing but the WAL files, so a slow or dead one never holds back another.
///
/// The reader fills a *round*: samples split over the shards by series (`ref % shards`, so each
/// series stays on one shard and in timestamp order), at most `max_samples_per_send` per shard and
/// request. When the round is full or its oldest sample has waited `batch_send_deadline`, it is
/// encoded and every shard sends its part concurrently, each with its own retries, while the
/// reader fills the next round. A round starts only after the previous one is acknowledged, so
/// no series' samples overtake each other; the shard count follows the throughput between
/// rounds (see ``ShardTuner``).
///
/// Delivery is at-least-once: the cursor is persisted only after the endpoint acknowledged (or
/// permanently refused) everything before it, so a restart or crash resends at most what was sent
/// since the last persist.
public final class RemoteEndpoint: Service {
    public let config: RemoteWriteConfig
    private let wal: WriteAheadLog
    private let transport: HTTPTransport
    private let settings: HTTPClientSettings
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
    private let shardsDesired: GaugeMetric
    private let metadataTotal: CounterMetric
    private let metadataFailed: CounterMetric
    private let unconfirmed: CounterMetric
    private let exemplarsTotal: CounterMetric
    private let exemplarsFailed: CounterMetric
    private let exemplarsUnconfirmed: CounterMetric
    /// Whether a metadata request (1.0's `metadata_config`) is under way.
    private let metadataInFlight = Atomic<Bool>(false)
    private let sendDuration: DurationHistogramMetric

    /// Progress and errors, written by the reader and the shard tasks, shown on `/status`.
    private let stats: Mutex<EndpointStatus>
    /// What the shard tasks did since the last tuning tick: samples delivered and dropped, send time.
    private let tickSent = Atomic<Int64>(0)
    private let tickDropped = Atomic<Int64>(0)
    private let tickSendNanos = Atomic<Int64>(0)
    /// Milliseconds since the epoch of the last delivered request.
    private let lastDelivery = Atomic<Int64>(0)
    /// The newest timestamp of the last acknowledged round (ms), for the shard tuner's delay.
    private let highestSentMs = Atomic<Int64>(0)
    /// No resharding before this time (ms since the epoch): set while a shard waits to retry, as
    /// more shards would only push harder on a backend that is already refusing.
    private let reshardDisabledUntil = Atomic<Int64>(0)

    public init(
        config: RemoteWriteConfig, externalLabels: Labels, wal: WriteAheadLog, transport: HTTPTransport,
        settings: HTTPClientSettings, status: StatusBoard, registry: MetricsRegistry, logger: Logger
    ) {
        self.settings = settings
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
        shardsDesired = registry.makeGauge(name: MetricName.remoteShardsDesired, labels: labels)
        metadataTotal = registry.makeCounter(name: MetricName.remoteMetadataTotal, labels: labels)
        metadataFailed = registry.makeCounter(name: MetricName.remoteMetadataFailed, labels: labels)
        unconfirmed = registry.makeCounter(name: MetricName.remoteSamplesUnconfirmed, labels: labels)
        exemplarsTotal = registry.makeCounter(name: MetricName.remoteExemplarsTotal, labels: labels)
        exemplarsFailed = registry.makeCounter(name: MetricName.remoteExemplarsFailed, labels: labels)
        exemplarsUnconfirmed = registry.makeCounter(name: MetricName.remoteExemplarsUnconfirmed, labels: labels)
        registry.makeGauge(name: MetricName.remoteShardsMin, labels: labels).set(Double(config.queueConfig.minShards))
        registry.makeGauge(name: MetricName.remoteShardsMax, labels: labels).set(Double(config.queueConfig.maxShards))
        registry.makeGauge(name: MetricName.remoteShardCapacity, labels: labels).set(Double(config.queueConfig.capacity))
        stats = Mutex(EndpointStatus(name: config.name, url: redactURL(config.url)))
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

    /// One shard's requests in a round, sent in order.
    struct Payload: Sendable {
        /// The samples, kept so a 413 or an expiry can re-encode what is left.
        var samples: [Sample]
        /// Exemplars sent with them (the last request of a shard carries its round's exemplars).
        var exemplars: [OutgoingExemplar]
        /// The snappy-compressed request.
        var body: [UInt8]
        var oldest: Int64
        var newest: Int64
        /// Already counted in `..._samples_total` (a re-encoded remainder).
        var counted: Bool
    }

    /// How a shard's part of a round ended.
    enum ShardOutcome: Sendable {
        /// Every payload delivered or refused for good (and counted).
        case done
        /// Payloads from `at` on must be encoded again: halved after a 413, or filtered after
        /// samples outlived `sample_age_limit` while retrying.
        case reencode(at: Int, split: Bool)
        /// Shutdown interrupted the retries: the round stays in the WAL for the next start.
        case abandoned
        /// The disk budget deleted the data under this round.
        case superseded
    }

    /// Set by a round's task when every shard is through.
    final class DoneFlag: Sendable {
        private let value = Atomic<Bool>(false)
        var isSet: Bool { value.load(ordering: .acquiring) }
        func set() { value.store(true, ordering: .releasing) }
    }

    /// A round being sent, and the WAL position acknowledged when it is done.
    struct InFlight {
        var task: Task<[ShardOutcome], Never>
        var payloads: [[Payload]]
        var consumed: WALCursor
        var highest: Int64
        var samples: Int
        var done: DoneFlag
    }

    private func loop() async {
        let q = config.queueConfig
        var shardCount = q.minShards
        var tuner = ShardTuner(minShards: q.minShards, maxShards: q.maxShards)
        shards.set(Double(shardCount))
        let start = wal.registerReader(config.name)
        logger.info("remote write starting", metadata: ["cursor": "\(start)", "shards": "\(shardCount)"])
        var reader = WALReader(directory: wal.segmentDirectory, position: WALPosition(segment: start.position.segment, offset: 0))
        defer { reader.close() }
        var labels = SeriesLabelCache(
            externalLabels: externalLabels, writeRelabel: config.writeRelabelConfigs, format: config.protobufMessage,
            shared: wal)
        var lastMetadataSend = ContinuousClock.now
        var codec = BatchCodec()
        var scratch: [Sample] = []
        /// The round being filled, by shard.
        var round: [[Sample]] = Array(repeating: [], count: shardCount)
        var roundExemplars: [[OutgoingExemplar]] = Array(repeating: [], count: shardCount)
        var roundCount = 0
        var roundStarted: ContinuousClock.Instant? = nil
        /// The round must go before the next record is read (a series' start time changes there).
        var roundCut = false
        var inFlight: InFlight? = nil
        /// Everything before this has been read into `round` (or needs no sending).
        var consumed = start
        /// Acknowledged (delivered or permanently dropped) up to here.
        var acknowledged = start
        var lastPersisted = start
        let clock = ContinuousClock()
        var lastPersist = clock.now
        var lastTick = clock.now
        var samplesRead: Int64 = 0
        let maxBatch = q.maxSamplesPerSend
        var abandoned = false

        while true {
            // The disk budget deleted segments this endpoint had not sent: those samples are counted
            // lost by the WAL, so drop what is held from them and continue where the WAL says.
            if let forced = wal.takeForcedCursor(config.name) {
                logger.warning(
                    "WAL disk budget deleted unsent data; continuing after it", metadata: ["cursor": "\(forced)"])
                stats.withLock {
                    $0.lastError = "disk budget exceeded: unsent samples deleted (see outpost_wal_samples_dropped_total)"
                }
                if let f = inFlight {
                    _ = await finish(f, labels: labels, codec: &codec)
                    inFlight = nil
                }
                for i in round.indices { round[i].removeAll(keepingCapacity: true) }
                for i in roundExemplars.indices { roundExemplars[i].removeAll(keepingCapacity: true) }
                roundCount = 0
                roundStarted = nil
                consumed = forced
                acknowledged = forced
                lastPersisted = forced
                reader.close()
                reader = WALReader(directory: wal.segmentDirectory, position: WALPosition(segment: forced.position.segment, offset: 0))
            }
            // Read until the round is full or the WAL has nothing new.
            var readError: String? = nil
            // Read before reading, so an append during the read wakes the wait below at once.
            let generation = wal.appendGeneration
            let roundCapacity = shardCount * maxBatch
            let n = UInt64(shardCount)
            while roundCount < roundCapacity && !stopping {
                let head = wal.head
                var partial: WALPosition? = nil
                let got: Bool
                do {
                    got = try reader.next(head: head, corrupt: { readError = $0 }) { record in
                        switch record.type {
                        case .series:
                            if labels.shared != nil {
                                _ = WALCodec.decodeSeriesBytes(record.payload) { ref, _ in labels.addDeclared(ref) }
                            } else {
                                _ = WALCodec.decodeSeries(record.payload) { ref, l in labels.add(ref, l) }
                            }
                            if record.start >= consumed.position { consumed = WALCursor(position: record.end, skip: 0) }
                        case .metadata:
                            _ = WALCodec.decodeMetadata(record.payload) { labels.addMetadata($0) }
                            if record.start >= consumed.position { consumed = WALCursor(position: record.end, skip: 0) }
                        case .starts:
                            if roundCount > 0 && labels.changesStarts(record.payload) {
                                partial = record.start
                                roundCut = true
                                return
                            }
                            _ = labels.addStarts(record.payload)
                            if record.start >= consumed.position { consumed = WALCursor(position: record.end, skip: 0) }
                        case .exemplars:
                            guard record.start >= consumed.position else { return }
                            consumed = WALCursor(position: record.end, skip: 0)
                            guard self.config.sendExemplars else { return }
                            _ = WALCodec.decodeExemplars(record.payload) { e in
                                let (bytes, symbols) = labels.exemplarLabels(e.labels)
                                roundExemplars[Int(e.ref.rawValue % n)].append(
                                    OutgoingExemplar(
                                        ref: e.ref, timestamp: e.timestamp, value: e.value, labelBytes: bytes, symbols: symbols))
                            }
                        case .samples:
                            guard record.start >= consumed.position else { return }
                            scratch.removeAll(keepingCapacity: true)
                            guard WALCodec.decodeSamples(record.payload, into: &scratch) else {
                                readError = "segment \(record.start.segment): malformed samples record skipped"
                                consumed = WALCursor(position: record.end, skip: 0)
                                return
                            }
                            let from = record.start == consumed.position ? min(consumed.skip, scratch.count) : 0
                            let take = min(scratch.count - from, roundCapacity - roundCount)
                            for sample in scratch[from..<(from + take)] {
                                round[Int(sample.ref.rawValue % n)].append(sample)
                            }
                            roundCount += take
                            samplesRead += Int64(take)
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
                    stats.withLock { $0.lastError = readError }
                }
                if let partial { reader.reposition(partial) }
                if !got || roundCut { break }
                if roundStarted == nil && roundCount > 0 { roundStarted = clock.now }
            }

            let deadlinePassed = roundStarted.map { clock.now - $0 >= q.batchSendDeadline } ?? false
            if roundCount == 0 && roundStarted == nil && roundExemplars.contains(where: { !$0.isEmpty }) {
                roundStarted = clock.now  // exemplars alone wait for the deadline too
            }
            let roundHasData = roundCount > 0 || roundExemplars.contains { !$0.isEmpty }
            let cut = roundCut
            roundCut = false
            let closing = roundHasData && (roundCount >= roundCapacity || deadlinePassed || stopping || cut)
            // Encode a closing round while the previous one may still be sending.
            var sealed: (payloads: [[Payload]], consumed: WALCursor, highest: Int64, samples: Int)? = nil
            if closing {
                var payloads: [[Payload]] = []
                var highest: Int64 = 0
                for i in round.indices {
                    for s in round[i] where s.timestamp > highest { highest = s.timestamp }
                    payloads.append(
                        encode(
                            round[i], exemplars: roundExemplars[i], limit: maxBatch, labels: labels, codec: &codec,
                            counted: false))
                    round[i].removeAll(keepingCapacity: true)
                    roundExemplars[i].removeAll(keepingCapacity: true)
                }
                sealed = (payloads, consumed, highest, roundCount)
                roundCount = 0
                roundStarted = nil
            }
            // The round in flight is acknowledged as soon as it is done, and waited for before the
            // next one starts (so no series overtakes itself).
            if let f = inFlight, f.done.isSet || sealed != nil {
                inFlight = nil
                switch await finish(f, labels: labels, codec: &codec) {
                case .done: acknowledged = f.consumed
                case .superseded: continue  // the top of the loop picks up the forced cursor
                case .abandoned: abandoned = true
                }
            }
            if abandoned { break }
            if let sealed {
                inFlight = launch(sealed.payloads, consumed: sealed.consumed, highest: sealed.highest, samples: sealed.samples)
                // The shard count changes only between rounds.
                if round.count != shardCount {
                    round = Array(repeating: [], count: shardCount)
                    roundExemplars = Array(repeating: [], count: shardCount)
                }
            } else if !roundHasData && inFlight == nil {
                acknowledged = consumed
            }

            if config.protobufMessage == .v1 && config.metadataConfig.send && !labels.families.isEmpty
                && clock.now - lastMetadataSend >= config.metadataConfig.sendInterval
            {
                lastMetadataSend = clock.now
                sendMetadata(Array(labels.families.values))
            }

            if clock.now - lastTick >= .seconds(Int64(ShardTuner.tickSeconds)) {
                let seconds = Double((clock.now - lastTick).milliseconds) / 1000
                lastTick = clock.now
                shardCount = retune(&tuner, current: shardCount, samplesIn: samplesRead, seconds: seconds)
                samplesRead = 0
                if round.count != shardCount && roundCount == 0 && roundExemplars.allSatisfy(\.isEmpty) {
                    round = Array(repeating: [], count: shardCount)
                    roundExemplars = Array(repeating: [], count: shardCount)
                }
            }

            if acknowledged != lastPersisted && (clock.now - lastPersist >= persistInterval || stopping) {
                persist(acknowledged)
                lastPersisted = acknowledged
                lastPersist = clock.now
            }
            let pending = roundCount + (inFlight?.samples ?? 0)
            pendingGauge.set(Double(pending))
            let cursor = acknowledged.description
            let count = shardCount
            let desired = tuner.desired
            let snapshot = stats.withLock {
                $0.pending = pending
                $0.cursor = cursor
                $0.shards = count
                $0.shardsDesired = desired
                return $0
            }
            status.updateEndpoint(config.name, url: snapshot.url) { $0 = snapshot }
            if stopping && roundCount == 0 && roundExemplars.allSatisfy(\.isEmpty) && inFlight == nil { break }
            // Nothing more to read right now: wait for the next append, the round's deadline, or the
            // round in flight to finish (it wakes the WAL's readers).
            if roundCount < shardCount * maxBatch && !(inFlight?.done.isSet ?? false) && !cut {
                var wait: Duration = .seconds(1)
                if let roundStarted { wait = min(wait, q.batchSendDeadline - (clock.now - roundStarted)) }
                await wal.waitForAppend(after: generation, timeout: max(.milliseconds(1), wait), sleep: LoopTimer.sleep(for:))
            }
        }
        if acknowledged != lastPersisted { persist(acknowledged) }
        let snapshot = stats.withLock { $0 }
        status.updateEndpoint(config.name, url: snapshot.url) { $0 = snapshot }
        logger.info(
            "remote write stopped",
            metadata: ["cursor": "\(acknowledged)", "unsent": "\(roundCount + (inFlight?.samples ?? 0))"])
    }

    /// Starts sending a round: one task per shard with something to send.
    private func launch(_ payloads: [[Payload]], consumed: WALCursor, highest: Int64, samples: Int) -> InFlight {
        let done = DoneFlag()
        let task = Task { [self] () -> [ShardOutcome] in
            var outcomes = Array(repeating: ShardOutcome.done, count: payloads.count)
            await withTaskGroup(of: (Int, ShardOutcome).self) { group in
                for (i, shard) in payloads.enumerated() where !shard.isEmpty {
                    group.addTask { (i, await self.send(shard)) }
                }
                for await (i, outcome) in group { outcomes[i] = outcome }
            }
            done.set()
            wal.wakeReaders()
            return outcomes
        }
        return InFlight(task: task, payloads: payloads, consumed: consumed, highest: highest, samples: samples, done: done)
    }

    /// Waits for a round, then re-encodes and resends what its shards handed back (after a 413 or
    /// an expiry), one shard after another, until the round is through.
    private func finish(_ round: InFlight, labels: SeriesLabelCache, codec: inout BatchCodec) async -> Delivery {
        let task = round.task
        var outcomes = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
        for i in outcomes.indices {
            var current = round.payloads[i]
            while case .reencode(let at, let split) = outcomes[i] {
                var left: [Sample] = []
                var leftExemplars: [OutgoingExemplar] = []
                for p in current[at...] {
                    left.append(contentsOf: p.samples)
                    leftExemplars.append(contentsOf: p.exemplars)
                }
                let limit = split ? max(1, current[at].samples.count / 2) : config.queueConfig.maxSamplesPerSend
                current = encode(left, exemplars: leftExemplars, limit: limit, labels: labels, codec: &codec, counted: true)
                outcomes[i] = current.isEmpty ? .done : await send(current)
            }
        }
        var result = Delivery.done
        for o in outcomes {
            switch o {
            case .superseded: return .superseded
            case .abandoned: result = .abandoned
            case .done, .reencode: break
            }
        }
        if case .done = result, round.highest > highestSentMs.load(ordering: .relaxed) {
            highestSent.set(Double(round.highest) / 1000)
            highestSentMs.store(round.highest, ordering: .relaxed)
            let lag = max(0, Double(wal.highestTimestamp - round.highest) / 1000)
            stats.withLock { $0.lagSeconds = lag }
        }
        return result
    }

    /// Encodes one shard's samples as requests of at most `limit` samples. Samples of series that
    /// write relabeling dropped, of unknown series, or older than `sample_age_limit` are left out
    /// and counted.
    private func encode(
        _ samples: [Sample], exemplars: [OutgoingExemplar] = [], limit: Int, labels: SeriesLabelCache,
        codec: inout BatchCodec, counted: Bool
    ) -> [Payload] {
        guard !samples.isEmpty || !exemplars.isEmpty else { return [] }
        let ageLimit = config.queueConfig.sampleAgeLimit.milliseconds
        let cutoff = ageLimit > 0 ? Timestamp.nowMilliseconds() - ageLimit : Int64.min
        var relabeled = 0
        var unknown = 0
        var tooOld = 0
        var chunks: [[Sample]] = []
        var chunk: [Sample] = []
        chunk.reserveCapacity(min(limit, samples.count))
        for sample in samples {
            if labels.isDropped(sample.ref) {
                relabeled += 1
            } else if !labels.isKnown(sample.ref) {
                unknown += 1
            } else if sample.timestamp < cutoff {
                tooOld += 1
            } else {
                chunk.append(sample)
                if chunk.count >= limit {
                    chunks.append(chunk)
                    chunk = []
                    chunk.reserveCapacity(limit)
                }
            }
        }
        if !chunk.isEmpty { chunks.append(chunk) }
        let liveExemplars = exemplars.filter { labels.isKnown($0.ref) && $0.timestamp >= cutoff }
        if chunks.isEmpty && !liveExemplars.isEmpty { chunks.append([]) }
        var payloads: [Payload] = []
        for (k, chunk) in chunks.enumerated() {
            let attached = k == chunks.count - 1 ? liveExemplars : []
            var body: [UInt8] = []
            switch config.protobufMessage {
            case .v1:
                _ = codec.encoder.encode(chunk, exemplars: attached, labels: labels)
                Snappy.compress(codec.encoder.buffer, into: &body)
            case .v2:
                _ = codec.encoderV2.encode(chunk, exemplars: attached, labels: labels)
                Snappy.compress(codec.encoderV2.buffer, into: &body)
            }
            var oldest = Int64.max
            var newest = Int64.min
            for s in chunk {
                oldest = min(oldest, s.timestamp)
                newest = max(newest, s.timestamp)
            }
            for e in attached {
                oldest = min(oldest, e.timestamp)
                newest = max(newest, e.timestamp)
            }
            payloads.append(
                Payload(samples: chunk, exemplars: attached, body: body, oldest: oldest, newest: newest, counted: counted))
        }
        if relabeled > 0 { droppedRelabeled.increment(by: Int64(relabeled)) }
        if unknown > 0 {
            droppedUnknown.increment(by: Int64(unknown))
            logger.warning("samples of unknown series dropped", metadata: ["samples": "\(unknown)"])
        }
        if tooOld > 0 { droppedTooOld.increment(by: Int64(tooOld)) }
        let dropped = relabeled + unknown + tooOld
        if dropped > 0 {
            _ = tickDropped.add(Int64(dropped), ordering: .relaxed)
            stats.withLock { $0.samplesDropped += Int64(dropped) }
        }
        return payloads
    }

    /// One tuning tick: feeds what happened since the last one to the tuner and returns the shard
    /// count for the next rounds.
    private func retune(_ tuner: inout ShardTuner, current: Int, samplesIn: Int64, seconds: Double) -> Int {
        let sent = tickSent.exchange(0, ordering: .relaxed)
        let dropped = tickDropped.exchange(0, ordering: .relaxed)
        let nanos = tickSendNanos.exchange(0, ordering: .relaxed)
        let delay = max(0, Double(wal.highestTimestamp - highestSentMs.load(ordering: .relaxed)) / 1000)
        let wanted = tuner.tick(
            samplesIn: samplesIn, samplesOut: sent, samplesDropped: dropped, sendSeconds: Double(nanos) / 1e9,
            delaySeconds: delay, current: current)
        shardsDesired.set(tuner.desired)
        guard wanted != current else { return current }
        // As in Prometheus: not while retrying, and not when nothing was delivered lately.
        let now = Timestamp.nowMilliseconds()
        if now < reshardDisabledUntil.load(ordering: .relaxed) {
            logger.info("not resharding while waiting to retry", metadata: ["desired": "\(wanted)"])
            return current
        }
        if lastDelivery.load(ordering: .relaxed) < now - Int64(ShardTuner.tickSeconds * 1000) {
            logger.info("not resharding: no successful send lately", metadata: ["desired": "\(wanted)"])
            return current
        }
        logger.info("remote storage resharding", metadata: ["from": "\(current)", "to": "\(wanted)"])
        shards.set(Double(wanted))
        return wanted
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

    /// The reused encoding buffers.
    struct BatchCodec {
        var encoder = WriteRequestEncoder()
        var encoderV2 = WriteRequestV2Encoder()
    }

    /// 1.0's `metadata_config`: every family's metadata, in requests of at most
    /// `max_samples_per_send` entries, sent in the background once per `send_interval` (one at a
    /// time; a failure waits for the next interval, as Prometheus' metadata watcher does).
    private func sendMetadata(_ families: [MetricMetadata]) {
        guard !metadataInFlight.exchange(true, ordering: .acquiring) else { return }
        let chunk = config.metadataConfig.maxSamplesPerSend
        let sorted = families.sorted { $0.family < $1.family }
        var bodies: [(count: Int, body: [UInt8])] = []
        var raw: [UInt8] = []
        var start = 0
        while start < sorted.count {
            let end = min(sorted.count, start + chunk)
            MetadataRequestEncoder.encode(sorted[start..<end], into: &raw)
            var body: [UInt8] = []
            Snappy.compress(raw, into: &body)
            bodies.append((end - start, body))
            start = end
        }
        Task {
            defer { metadataInFlight.store(false, ordering: .releasing) }
            for (count, body) in bodies {
                metadataTotal.increment(by: Int64(count))
                do {
                    let r = try await transport.post(
                        url: config.url, headers: requestHeaders(attempt: 0), body: body, timeout: config.remoteTimeout,
                        settings: settings)
                    if !(200..<300).contains(r.status) {
                        metadataFailed.increment(by: Int64(count))
                        logger.warning(
                            "sending metadata failed", metadata: ["status": "\(r.status)", "error": "\(r.body.prefixString(256))"])
                        return
                    }
                } catch {
                    metadataFailed.increment(by: Int64(count))
                    logger.warning("sending metadata failed", metadata: ["error": "\(error)"])
                    return
                }
            }
        }
    }

    /// The protocol's headers, then the configured ones (which cannot replace them: the config
    /// refuses those names).
    private func requestHeaders(attempt: Int) -> [(String, String)] {
        var headers: [(String, String)]
        switch config.protobufMessage {
        case .v1:
            headers = [
                ("Content-Encoding", "snappy"), ("Content-Type", "application/x-protobuf"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"), ("User-Agent", BuildInfo.userAgent),
            ]
        case .v2:
            headers = [
                ("Content-Encoding", "snappy"), ("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request"),
                ("X-Prometheus-Remote-Write-Version", "2.0.0"), ("User-Agent", BuildInfo.userAgent),
            ]
        }
        headers += config.headers
        if attempt > 0 { headers.append(("Retry-Attempt", String(attempt))) }
        return headers
    }

    /// Sends one shard's payloads in order, each until it is delivered or refused for good.
    private func send(_ payloads: [Payload]) async -> ShardOutcome {
        let q = config.queueConfig
        for (index, payload) in payloads.enumerated() {
            let count = Int64(payload.samples.count)
            if !payload.counted {
                samplesTotal.increment(by: count)
                if !payload.exemplars.isEmpty { exemplarsTotal.increment(by: Int64(payload.exemplars.count)) }
            }
            var backoff: Duration = .zero
            var attempt = 0
            attempts: while true {
                if attempt > 0 && q.sampleAgeLimit > .zero
                    && payload.oldest < Timestamp.nowMilliseconds() - q.sampleAgeLimit.milliseconds
                {
                    return .reencode(at: index, split: false)
                }
                let headers = requestHeaders(attempt: attempt)
                var statusCode: Int? = nil
                var written: Int64? = nil
                var exemplarsWritten: Int64? = nil
                var retryAfter: Duration? = nil
                var message = ""
                let sendStarted = ContinuousClock.now
                do {
                    let r = try await transport.post(
                        url: config.url, headers: headers, body: payload.body, timeout: config.remoteTimeout,
                        settings: settings)
                    statusCode = r.status
                    retryAfter = SendDecision.parseRetryAfter(
                        r.header("Retry-After"), nowSeconds: Timestamp.nowMilliseconds() / 1000)
                    written = r.header("X-Prometheus-Remote-Write-Samples-Written").flatMap { Int64($0) }
                    exemplarsWritten = r.header("X-Prometheus-Remote-Write-Exemplars-Written").flatMap { Int64($0) }
                    if r.status == 415 {
                        message =
                            "server returned HTTP status 415 (unsupported media type): it does not accept \(config.protobufMessage.rawValue)"
                            + (config.protobufMessage == .v2 ? "; set protobuf_message: prometheus.WriteRequest for a 1.0 receiver" : "")
                    } else if !(200..<300).contains(r.status) {
                        message = "server returned HTTP status \(r.status): \(r.body.prefixString(256))"
                    }
                } catch {
                    message = error.description
                }
                let took = ContinuousClock.now - sendStarted
                sendDuration.record(took)
                _ = tickSendNanos.add(Int64(took.seconds * 1e9), ordering: .relaxed)
                attempt += 1
                switch SendDecision.decide(
                    status: statusCode, retryAfter: retryAfter, previous: backoff, minBackoff: q.minBackoff,
                    maxBackoff: q.maxBackoff, retryOn429: q.retryOnHTTP429)
                {
                case .delivered:
                    bytesTotal.increment(by: Int64(payload.body.count))
                    if config.protobufMessage == .v2, let written, written < count {
                        // The receiver says it stored fewer samples than it was sent (2.0 spec).
                        unconfirmed.increment(by: count - written)
                        logger.warning(
                            "receiver wrote fewer samples than sent", metadata: ["sent": "\(count)", "written": "\(written)"])
                    }
                    let exemplarCount = Int64(payload.exemplars.count)
                    if config.protobufMessage == .v2, let exemplarsWritten, exemplarsWritten < exemplarCount {
                        exemplarsUnconfirmed.increment(by: exemplarCount - exemplarsWritten)
                        logger.warning(
                            "receiver wrote fewer exemplars than sent",
                            metadata: ["sent": "\(exemplarCount)", "written": "\(exemplarsWritten)"])
                    }
                    _ = tickSent.add(count, ordering: .relaxed)
                    let now = Timestamp.nowMilliseconds()
                    lastDelivery.store(now, ordering: .relaxed)
                    stats.withLock {
                        $0.samplesSent += count
                        $0.lastSuccess = now
                        $0.lastError = ""
                    }
                    break attempts
                case .split where payload.samples.count > 1:
                    logger.warning(
                        "request too large for the receiver, sending it in halves",
                        metadata: ["samples": "\(payload.samples.count)", "error": "\(message)"])
                    return .reencode(at: index, split: true)
                case .drop, .split:
                    failedTotal.increment(by: count)
                    if !payload.exemplars.isEmpty { exemplarsFailed.increment(by: Int64(payload.exemplars.count)) }
                    _ = tickDropped.add(count, ordering: .relaxed)
                    stats.withLock {
                        $0.samplesFailed += count
                        $0.lastError = message
                    }
                    logger.error(
                        "non-recoverable error, samples dropped", metadata: ["samples": "\(count)", "error": "\(message)"])
                    break attempts
                case .retry(let next):
                    if stopping { return .abandoned }
                    retriedTotal.increment(by: count)
                    let since = Timestamp.nowMilliseconds()
                    stats.withLock {
                        $0.samplesRetried += count
                        $0.lastError = "retrying after \(next): \(message)"
                    }
                    let snapshot = stats.withLock { $0 }
                    status.updateEndpoint(config.name, url: snapshot.url) { $0 = snapshot }
                    logger.warning("send failed, retrying", metadata: ["error": "\(message)", "backoff": "\(next)"])
                    // No resharding until twice the wait has passed (Prometheus' rule).
                    let until = since + 2 * next.milliseconds
                    var seen = reshardDisabledUntil.load(ordering: .relaxed)
                    while seen < until {
                        let (exchanged, original) = reshardDisabledUntil.compareExchange(
                            expected: seen, desired: until, ordering: .relaxed)
                        if exchanged { break }
                        seen = original
                    }
                    backoff = next
                    // Sleep in short steps so shutdown and the disk budget are noticed promptly.
                    let clock = ContinuousClock()
                    let wakeAt = clock.now + next
                    while clock.now < wakeAt {
                        if stopping { return .abandoned }
                        if wal.hasForcedCursor(config.name) { return .superseded }
                        try? await Task.sleep(for: min(.milliseconds(200), wakeAt - clock.now))
                    }
                    if wal.hasForcedCursor(config.name) { return .superseded }
                }
            }
        }
        return .done
    }
}
