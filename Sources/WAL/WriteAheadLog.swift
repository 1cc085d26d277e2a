import Logging
import OutpostModel
import Synchronization
import Telemetry

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The append side of the WAL and its series table: the only hand-off between scraping and sending.
///
/// Scrape loops resolve label sets to ``SeriesRef``s (``seriesRef(for:)``) and append whole scrapes
/// (``append(_:)``). Within every segment, a series is declared by a series record before its first
/// samples record there, so any one segment can be read without the ones before it, and a series
/// that stopped being scraped simply stops being written: old segments take it with them when they
/// are deleted. See docs/wal.md for the format.
///
/// Appends are serialised by a mutex and are one `write(2)` per scrape; ``sync()`` makes them durable
/// (group commit, called every `--storage.agent.wal-sync-interval`).
public final class WriteAheadLog: Sendable {
    /// Tunables, with the defaults the agent uses.
    public struct Options: Sendable {
        public var directory: String
        /// A segment is closed and a new one started once it reaches this size.
        public var segmentSize: Int64 = 128 << 20
        /// Disk budget for the segments; 0 means none. When closed segments push the WAL over it, the
        /// oldest are deleted even if an endpoint has not sent them, and the loss is counted.
        public var maxDiskBytes: Int64 = 0
        public init(directory: String) { self.directory = directory }
    }

    struct State {
        var fd: Int32 = -1
        var segment: Int = 0
        var offset: Int64 = 0
        var firstSegment: Int = 0
        /// Sizes of the closed segments still on disk.
        var segmentSizes: [Int: Int64] = [:]
        /// How many series `table` holds, readable without its lock.
        var seriesCount = 0
        /// One past the highest ref the series table holds.
        var endRef = 1
        /// The refs declared in the head segment (a series record written there).
        var declared = RefBitSet()
        var buffer: [UInt8] = []
        var payload: [UInt8] = []
        /// The refs this append declares, taken back if its write fails.
        var declaredNow: [Int] = []
        var dirty = false
        var closed = false
        var highestTimestamp: Int64 = 0
        /// Acknowledged, persisted read positions of the registered readers, by reader name.
        var readers: [String: WALCursor] = [:]
        /// Positions the disk budget moved readers to, until they pick them up.
        var forced: [String: WALCursor] = [:]
        var budgetDrops: [String: CounterMetric] = [:]
        /// Every family's metadata as last written. Each segment starts with all of it, so a reader
        /// starting at any segment knows every family it will meet.
        var families: [String: MetricMetadata] = [:]
        /// Every series' start time as last written (series that have one); each segment starts
        /// with all of them too.
        var starts: [UInt64: Int64] = [:]
    }

    public let options: Options
    private let appendSignal = AppendSignal()

    /// Changes with every append; pass it to ``waitForAppend(after:timeout:sleep:)``.
    public var appendGeneration: UInt64 { appendSignal.generation }

    /// Waits until something is appended after `generation` was read, or `timeout` passes, or the
    /// task is cancelled — whichever comes first. `sleep` keeps the time (the caller may have a
    /// cheaper timer than `Task.sleep`).
    public func waitForAppend(
        after generation: UInt64, timeout: Duration,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await sleep(timeout) }
            group.addTask { await self.appendSignal.wait(after: generation) }
            await group.next()
            group.cancelAll()
        }
    }
    /// Wakes every reader waiting in ``waitForAppend(after:timeout:sleep:)`` without an append, for a
    /// reader whose own work (a send it started) finished. Other readers re-check and wait again.
    public func wakeReaders() { appendSignal.signal() }

    /// `<path>/wal`, holding the segments.
    public let segmentDirectory: String
    /// `<path>/cursors`, holding one file per remote endpoint.
    public let cursorDirectory: String
    private let state: Mutex<State>
    /// Every series' labels, by ref and by labels. Its own lock, taken after `state` when both are
    /// needed, so remote endpoints can read labels without waiting for appends.
    private let table: Mutex<SeriesTable>
    private let logger: Logger
    private let status: StatusBoard?
    private let registry: MetricsRegistry
    private let samplesAppended: CounterMetric
    private let seriesCreated: CounterMetric
    private let bytesWritten: CounterMetric
    private let segmentGauge: GaugeMetric
    private let appendFailures: CounterMetric
    private let appendFailedSamples: CounterMetric
    private let corruptions: CounterMetric
    private let syncs: CounterMetric
    private let highestTimestampGauge: GaugeMetric
    private let diskBytes: GaugeMetric

    /// Opens (creating, repairing and replaying as needed) the WAL under `options.directory`. The
    /// next append starts a new segment. Progress and repairs are logged.
    public init(
        options: Options, registry: MetricsRegistry, status: StatusBoard? = nil, logger: Logger
    ) throws(WALError) {
        self.options = options
        self.logger = logger
        self.status = status
        self.registry = registry
        self.segmentDirectory = options.directory + "/wal"
        self.cursorDirectory = options.directory + "/cursors"
        samplesAppended = registry.makeCounter(name: MetricName.walSamplesAppended)
        seriesCreated = registry.makeCounter(name: MetricName.walSeriesCreated)
        bytesWritten = registry.makeCounter(name: MetricName.walBytesWritten)
        segmentGauge = registry.makeGauge(name: MetricName.walSegmentCurrent)
        appendFailures = registry.makeCounter(name: MetricName.walAppendFailures)
        appendFailedSamples = registry.makeCounter(name: MetricName.walAppendFailedSamples)
        corruptions = registry.makeCounter(name: MetricName.walCorruptions)
        syncs = registry.makeCounter(name: MetricName.walSyncs)
        highestTimestampGauge = registry.makeGauge(name: MetricName.remoteHighestTimestamp)
        diskBytes = registry.makeGauge(name: MetricName.walDiskBytes)

        try FileIO.makeDirectory(segmentDirectory)
        try FileIO.makeDirectory(cursorDirectory)
        let clock = ContinuousClock()
        let started = clock.now
        let replay = try WALReplay.run(directory: segmentDirectory, logger: logger)
        if replay.corruptions > 0 { corruptions.increment(by: Int64(replay.corruptions)) }
        var s = State()
        s.seriesCount = replay.series.count
        s.endRef = replay.series.endRef
        s.firstSegment = replay.segments.first ?? replay.nextSegment
        s.segment = replay.nextSegment
        s.segmentSizes = replay.sizes
        for name in CursorStore.names(directory: cursorDirectory) {
            if let cursor = CursorStore.load(directory: cursorDirectory, name: name) { s.readers[name] = cursor }
        }
        self.state = Mutex(s)
        self.table = Mutex(replay.series)
        segmentGauge.set(Double(replay.nextSegment))
        logger.info(
            "WAL replay finished",
            metadata: ["series": "\(replay.series.count)", "segments": "\(replay.segments.count)",
                       "records": "\(replay.records)", "next_segment": "\(replay.nextSegment)",
                       "duration": "\(clock.now - started)"])
        state.withLock { s in enforceBudget(&s) }
        publishStatus()
    }

    // MARK: - Append side

    /// What ``seriesRef(for:)`` hands out when the series table cannot take another series (2³² of
    /// them, or 4 GiB of names and values): beyond 32 bits, so no series has it and a scrape refuses it.
    public static let unstoredRef = SeriesRef(1 << 32)

    /// The reference of `labels`, created on first sight. Called on scrape-cache misses only.
    public func seriesRef(for labels: Labels) -> SeriesRef {
        state.withLock { s in
            labels.bytes.withUnsafeBytes { bytes in
                let (ref, added, endRef) = table.withLock { t -> (SeriesRef, Bool, Int) in
                    if let ref = t.ref(of: bytes) { return (ref, false, t.endRef) }
                    guard let ref = t.add(bytes) else { return (Self.unstoredRef, false, t.endRef) }
                    return (ref, true, t.endRef)
                }
                guard added else { return ref }
                s.seriesCount += 1
                s.endRef = endRef
                seriesCreated.increment()
                return ref
            }
        }
    }

    /// Appends one scrape's samples, preceded by a series record for every series not yet declared
    /// in the head segment, a metadata record for `metadata` that changed and a starts record for
    /// `starts` that changed (all families' and all start times at the start of a segment), with
    /// one write. On failure nothing of this call stays in the file.
    public func append(
        _ samples: UnsafeBufferPointer<Sample>, metadata: [MetricMetadata] = [], exemplars: [Exemplar] = [],
        starts: [SeriesStart] = []
    ) throws(WALError) {
        guard !samples.isEmpty else { return }
        try state.withLock { (s) throws(WALError) in
            guard !s.closed else { throw WALError("WAL is closed") }
            if s.offset >= options.segmentSize { closeSegment(&s) }
            if s.fd < 0 {
                let path = segmentDirectory + "/" + WALFormat.segmentName(s.segment)
                do throws(WALError) {
                    s.fd = try FileIO.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC)
                } catch {
                    recordFailure(error, samples: samples.count)
                    throw error
                }
                FileIO.fsyncDirectory(segmentDirectory)
                segmentGauge.set(Double(s.segment))
            }
            s.buffer.removeAll(keepingCapacity: true)
            let newSegment = s.offset == 0
            if newSegment { s.buffer += WALFormat.segmentHeader }
            s.payload.removeAll(keepingCapacity: true)
            var previousFamilies: [(String, MetricMetadata?)] = []
            for m in metadata where s.families[m.family] != m {
                previousFamilies.append((m.family, s.families[m.family]))
                s.families[m.family] = m
                if !newSegment { WALCodec.appendMetadata(&s.payload, m) }
            }
            if newSegment {
                for name in s.families.keys.sorted() {
                    if let m = s.families[name] { WALCodec.appendMetadata(&s.payload, m) }
                }
            }
            if !s.payload.isEmpty {
                s.payload.withUnsafeBytes { WALFormat.appendRecord(&s.buffer, type: .metadata, payload: $0) }
                s.payload.removeAll(keepingCapacity: true)
            }
            s.declaredNow.removeAll(keepingCapacity: true)
            let known = s.endRef
            var payload: [UInt8] = []
            swap(&payload, &s.payload)
            for sample in samples {
                let ref = Int(truncatingIfNeeded: sample.ref.rawValue)
                guard ref > 0 && ref < known else { continue }
                if s.declared.insert(ref) { s.declaredNow.append(ref) }
            }
            if !s.declaredNow.isEmpty {
                let declared = s.declaredNow
                table.withLock { t in
                    for ref in declared {
                        let r = SeriesRef(UInt64(ref))
                        t.withLabels(r) { WALCodec.appendSeries(&payload, ref: r, canonical: $0) }
                    }
                }
            }
            swap(&payload, &s.payload)
            if !s.payload.isEmpty {
                s.payload.withUnsafeBytes { WALFormat.appendRecord(&s.buffer, type: .series, payload: $0) }
            }
            s.payload.removeAll(keepingCapacity: true)
            var previousStarts: [(UInt64, Int64?)] = []
            for start in starts where s.starts[start.ref.rawValue] != start.start {
                previousStarts.append((start.ref.rawValue, s.starts[start.ref.rawValue]))
                s.starts[start.ref.rawValue] = start.start
                if !newSegment { WALCodec.appendStarts(&s.payload, CollectionOfOne(start)) }
            }
            if newSegment {
                WALCodec.appendStarts(&s.payload, s.starts.sorted { $0.key < $1.key }.lazy.map { SeriesStart(ref: SeriesRef($0.key), start: $0.value) })
            }
            if !s.payload.isEmpty {
                s.payload.withUnsafeBytes { WALFormat.appendRecord(&s.buffer, type: .starts, payload: $0) }
                s.payload.removeAll(keepingCapacity: true)
            }
            WALCodec.appendSamples(&s.payload, samples)
            s.payload.withUnsafeBytes { WALFormat.appendRecord(&s.buffer, type: .samples, payload: $0) }
            if !exemplars.isEmpty {
                s.payload.removeAll(keepingCapacity: true)
                WALCodec.appendExemplars(&s.payload, exemplars)
                s.payload.withUnsafeBytes { WALFormat.appendRecord(&s.buffer, type: .exemplars, payload: $0) }
            }
            do throws(WALError) {
                try write(&s)
            } catch {
                for ref in s.declaredNow { s.declared.remove(ref) }
                for (family, previous) in previousFamilies { s.families[family] = previous }
                for (ref, previous) in previousStarts { s.starts[ref] = previous }
                recordFailure(error, samples: samples.count)
                throw error
            }
            samplesAppended.increment(by: Int64(samples.count))
            appendSignal.signal()
            var highest = s.highestTimestamp
            for sample in samples where sample.timestamp > highest { highest = sample.timestamp }
            if highest > s.highestTimestamp {
                s.highestTimestamp = highest
                highestTimestampGauge.set(Double(highest) / 1000)
            }
        }
    }

    /// Array convenience for ``append(_:)-(UnsafeBufferPointer<Sample>)``.
    public func append(
        _ samples: [Sample], metadata: [MetricMetadata] = [], exemplars: [Exemplar] = [], starts: [SeriesStart] = []
    ) throws(WALError) {
        try samples.withUnsafeBufferPointer { (p) throws(WALError) in
            try append(p, metadata: metadata, exemplars: exemplars, starts: starts)
        }
    }

    private func recordFailure(_ error: WALError, samples: Int) {
        appendFailures.increment()
        appendFailedSamples.increment(by: Int64(samples))
        status?.updateWAL { $0.lastError = error.description }
    }

    /// Writes `s.buffer` at the end of the head segment. On error nothing stays: the file is cut
    /// back, or, when it was still empty, closed and removed so the next append starts it afresh.
    private func write(_ s: inout State) throws(WALError) {
        let path = segmentDirectory + "/" + WALFormat.segmentName(s.segment)
        do {
            try FileIO.writeAll(s.fd, s.buffer, path: path)
        } catch {
            if s.offset == 0 {
                Glibc.close(s.fd)
                s.fd = -1
                unlink(path)
            } else {
                _ = ftruncate(s.fd, off_t(s.offset))
                _ = lseek(s.fd, off_t(s.offset), SEEK_SET)
            }
            throw error
        }
        if s.offset == 0 { status?.updateWAL { $0.lastError = "" } }
        s.offset += Int64(s.buffer.count)
        s.dirty = true
        bytesWritten.increment(by: Int64(s.buffer.count))
    }

    /// Closes the head segment (fsync) and moves to the next number; the file is created by the next
    /// append. Then applies retention and the disk budget.
    private func closeSegment(_ s: inout State) {
        if s.fd >= 0 {
            if fsync(s.fd) == 0 { syncs.increment() }
            Glibc.close(s.fd)
            s.fd = -1
        }
        s.segmentSizes[s.segment] = s.offset
        s.segment += 1
        s.offset = 0
        s.declared.removeAll()  // the next segment declares its series again
        s.dirty = false
        truncate(&s)
        enforceBudget(&s)
        logger.debug("WAL segment closed", metadata: ["next": "\(s.segment)"])
    }

    /// Deletes segments every registered reader has finished; with no readers, every closed segment.
    private func truncate(_ s: inout State) {
        let keepFrom = min(s.readers.values.map(\.position.segment).min() ?? s.segment, s.segment)
        guard keepFrom > s.firstSegment else { return }
        for seg in s.firstSegment..<keepFrom { deleteSegment(seg, &s) }
        FileIO.fsyncDirectory(segmentDirectory)
        s.firstSegment = keepFrom
    }

    private func deleteSegment(_ seg: Int, _ s: inout State) {
        unlink(segmentDirectory + "/" + WALFormat.segmentName(seg))
        s.segmentSizes.removeValue(forKey: seg)
    }

    /// Over the disk budget: delete the oldest closed segments even though some reader still needs
    /// them, move those readers past them (persisted, and handed to them through
    /// ``takeForcedCursor(_:)``), and count per reader the samples it will never send.
    private func enforceBudget(_ s: inout State) {
        guard options.maxDiskBytes > 0 else { return }
        var total = s.segmentSizes.values.reduce(0, +) + s.offset
        while total > options.maxDiskBytes && s.firstSegment < s.segment {
            let seg = s.firstSegment
            let path = segmentDirectory + "/" + WALFormat.segmentName(seg)
            let next = WALCursor(position: WALPosition(segment: seg + 1, offset: 0), skip: 0)
            var losses: [String: Int] = [:]
            for (name, cursor) in s.readers where cursor.position.segment <= seg {
                let lost = WALScan.countSamples(path: path, from: cursor.position.segment == seg ? cursor : nil)
                losses[name] = lost
                s.readers[name] = next
                s.forced[name] = next
                do {
                    try CursorStore.save(directory: cursorDirectory, name: name, cursor: next)
                } catch {
                    logger.error("persisting WAL cursor failed", metadata: ["reader": "\(name)", "error": "\(error)"])
                }
                let counter = s.budgetDrops[name] ?? registry.makeCounter(
                    name: MetricName.walSamplesDropped, labels: [("reason", "disk_budget"), ("remote_name", name)])
                s.budgetDrops[name] = counter
                counter.increment(by: Int64(lost))
            }
            total -= s.segmentSizes[seg] ?? 0
            deleteSegment(seg, &s)
            s.firstSegment = seg + 1
            logger.warning(
                "WAL over its disk budget: oldest segment deleted before every endpoint sent it",
                metadata: ["segment": "\(seg)", "budget_bytes": "\(options.maxDiskBytes)",
                           "samples_lost": "\(losses.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ","))"])
        }
        FileIO.fsyncDirectory(segmentDirectory)
    }

    /// Makes every append so far durable (one fsync). Called on a timer and at shutdown.
    public func sync() throws(WALError) {
        try state.withLock { (s) throws(WALError) in
            guard s.dirty, s.fd >= 0 else { return }
            guard fsync(s.fd) == 0 else { throw WALError("fsync WAL segment", errno: errno) }
            s.dirty = false
            syncs.increment()
        }
        publishStatus()
    }

    /// Syncs and closes the head segment; later appends fail.
    public func close() {
        state.withLock { s in
            guard !s.closed else { return }
            if s.fd >= 0 {
                if fsync(s.fd) == 0 { syncs.increment() }
                Glibc.close(s.fd)
                s.fd = -1
            }
            s.closed = true
        }
    }

    /// The end of the last complete append: readers never read past it.
    public var head: WALPosition {
        state.withLock { WALPosition(segment: $0.segment, offset: $0.offset) }
    }

    /// The oldest segment still on disk.
    public var firstSegment: Int { state.withLock { $0.firstSegment } }

    /// Number of known series.
    public var seriesCount: Int { state.withLock { $0.seriesCount } }

    /// Calls `body` with the labels of every series (canonical label bytes by ref), under the
    /// series table's lock: appends that declare series wait meanwhile, so keep it short.
    public func withSeriesTable<R>(_ body: (SeriesTable) -> R) -> R {
        table.withLock { body($0) }
    }

    /// Newest sample timestamp appended, in milliseconds.
    public var highestTimestamp: Int64 { state.withLock { $0.highestTimestamp } }

    // MARK: - Readers

    /// Registers a reader and returns where it starts: its persisted cursor, clamped to what is on
    /// disk, or the head for a reader never seen before (persisted at once).
    public func registerReader(_ name: String) -> WALCursor {
        let stored = CursorStore.load(directory: cursorDirectory, name: name)
        let cursor = state.withLock { s in
            var cursor = stored ?? WALCursor(position: WALPosition(segment: s.segment, offset: 0), skip: 0)
            if cursor.position.segment < s.firstSegment || cursor.position.segment > s.segment {
                if stored != nil {
                    logger.warning(
                        "WAL cursor outside the segments on disk, resuming at the oldest",
                        metadata: ["reader": "\(name)", "cursor": "\(cursor.position)"])
                }
                cursor = WALCursor(position: WALPosition(segment: s.firstSegment, offset: 0), skip: 0)
            }
            s.readers[name] = cursor
            s.forced.removeValue(forKey: name)
            return cursor
        }
        if stored == nil {
            // Persist at once, so a crash before the first acknowledged send cannot let the segments
            // this reader still needs be deleted as unclaimed on the next start.
            do {
                try CursorStore.save(directory: cursorDirectory, name: name, cursor: cursor)
            } catch {
                logger.error("persisting new WAL cursor failed", metadata: ["reader": "\(name)", "error": "\(error)"])
            }
        }
        return cursor
    }

    /// Persists an acknowledged read position and lets older segments go. A position in a segment
    /// already deleted, or behind one the disk budget forced, is ignored: the reader was moved on.
    public func commit(reader name: String, cursor: WALCursor) throws(WALError) {
        let stale = state.withLock { s in
            if cursor.position.segment < s.firstSegment { return true }
            if let forced = s.forced[name], cursor.position < forced.position { return true }
            return false
        }
        if stale { return }
        try CursorStore.save(directory: cursorDirectory, name: name, cursor: cursor)
        state.withLock { s in
            s.readers[name] = cursor
        }
    }

    /// The position the disk budget moved `name` to since it last asked, if any: the reader must
    /// drop what it holds from before it and continue there.
    public func takeForcedCursor(_ name: String) -> WALCursor? {
        state.withLock { $0.forced.removeValue(forKey: name) }
    }

    /// Whether the disk budget moved `name` and it has not picked the position up yet.
    public func hasForcedCursor(_ name: String) -> Bool {
        state.withLock { $0.forced[name] != nil }
    }

    /// Deletes persisted cursors of readers no longer configured, releasing their hold on the WAL.
    public func releaseReaders(except names: Set<String>) {
        for name in CursorStore.names(directory: cursorDirectory) where !names.contains(name) {
            CursorStore.remove(directory: cursorDirectory, name: name)
            logger.info("WAL cursor of removed remote endpoint deleted", metadata: ["reader": "\(name)"])
        }
        state.withLock { s in
            for name in s.readers.keys where !names.contains(name) { s.readers.removeValue(forKey: name) }
        }
    }

    /// Publishes size and series counts to the status board and `/metrics`.
    public func publishStatus() {
        let (first, head, series, bytes) = state.withLock {
            ($0.firstSegment, $0.segment, $0.seriesCount, $0.segmentSizes.values.reduce(0, +) + $0.offset)
        }
        diskBytes.set(Double(bytes))
        guard let status else { return }
        status.updateWAL { w in
            w.directory = options.directory
            w.segments = head - first + 1
            w.bytesOnDisk = bytes
            w.series = series
            w.headSegment = head
            w.maxDiskBytes = options.maxDiskBytes
        }
    }
}
