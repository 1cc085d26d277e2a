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
/// (``append(_:)``); a new series is written as a series record before the first samples record that
/// uses it. Each segment starts with a series record holding every known series, so any one segment
/// can be read without the ones before it. See docs/wal.md for the format.
///
/// Appends are serialised by a mutex and are one `write(2)` per scrape; ``sync()`` makes them durable
/// (group commit, called every `--storage.agent.wal-sync-interval`).
public final class WriteAheadLog: Sendable {
    /// Tunables, with the defaults the agent uses.
    public struct Options: Sendable {
        public var directory: String
        /// A segment is closed and a new one started once it reaches this size.
        public var segmentSize: Int64 = 128 << 20
        public init(directory: String) { self.directory = directory }
    }

    struct State {
        var fd: Int32 = -1
        var segment: Int = 0
        var offset: Int64 = 0
        var firstSegment: Int = 0
        var series: [Labels: SeriesRef] = [:]
        var nextRef: UInt64 = 1
        var pendingSeries: [(SeriesRef, Labels)] = []
        var buffer: [UInt8] = []
        var payload: [UInt8] = []
        var dirty = false
        var closed = false
        var highestTimestamp: Int64 = 0
        /// Acknowledged, persisted read positions of the registered readers, by reader name.
        var readers: [String: WALPosition] = [:]
    }

    public let options: Options
    /// `<path>/wal`, holding the segments.
    public let segmentDirectory: String
    /// `<path>/cursors`, holding one file per remote endpoint.
    public let cursorDirectory: String
    private let state: Mutex<State>
    private let logger: Logger
    private let status: StatusBoard?
    private let samplesAppended: CounterMetric
    private let seriesCreated: CounterMetric
    private let bytesWritten: CounterMetric
    private let segmentGauge: GaugeMetric
    private let appendFailures: CounterMetric
    private let syncs: CounterMetric
    private let highestTimestampGauge: GaugeMetric

    /// Opens (creating, repairing and replaying as needed) the WAL under `options.directory`, then
    /// starts a new segment. Progress and repairs are logged.
    public init(
        options: Options, registry: MetricsRegistry, status: StatusBoard? = nil, logger: Logger
    ) throws(WALError) {
        self.options = options
        self.logger = logger
        self.status = status
        self.segmentDirectory = options.directory + "/wal"
        self.cursorDirectory = options.directory + "/cursors"
        samplesAppended = registry.makeCounter(name: MetricName.walSamplesAppended)
        seriesCreated = registry.makeCounter(name: MetricName.walSeriesCreated)
        bytesWritten = registry.makeCounter(name: MetricName.walBytesWritten)
        segmentGauge = registry.makeGauge(name: MetricName.walSegmentCurrent)
        appendFailures = registry.makeCounter(name: MetricName.walAppendFailures)
        syncs = registry.makeCounter(name: MetricName.walSyncs)
        highestTimestampGauge = registry.makeGauge(name: MetricName.remoteHighestTimestamp)

        try FileIO.makeDirectory(segmentDirectory)
        try FileIO.makeDirectory(cursorDirectory)
        var s = State()
        let replay = try WALReplay.run(directory: segmentDirectory, logger: logger)
        s.series = replay.series
        s.nextRef = replay.maxRef + 1
        s.firstSegment = replay.segments.first ?? replay.nextSegment
        s.segment = replay.nextSegment - 1
        for name in CursorStore.names(directory: cursorDirectory) {
            if let cursor = CursorStore.load(directory: cursorDirectory, name: name) {
                s.readers[name] = cursor.position
            }
        }
        self.state = Mutex(s)
        try state.withLock { (s) throws(WALError) in try self.cut(&s) }
        logger.info(
            "WAL replay finished",
            metadata: ["series": "\(replay.series.count)", "segments": "\(replay.segments.count)",
                       "records": "\(replay.records)", "head_segment": "\(replay.nextSegment)"])
        publishStatus()
    }

    // MARK: - Append side

    /// The reference of `labels`, created (and queued for the next append as a series record) on
    /// first sight. Called on scrape-cache misses only.
    public func seriesRef(for labels: Labels) -> SeriesRef {
        state.withLock { s in
            if let ref = s.series[labels] { return ref }
            let ref = SeriesRef(s.nextRef)
            s.nextRef += 1
            s.series[labels] = ref
            s.pendingSeries.append((ref, labels))
            return ref
        }
    }

    /// Appends one scrape's samples (and any series created since the last append) with one write.
    /// On failure nothing of this call stays in the file, and the series stay queued.
    public func append(_ samples: UnsafeBufferPointer<Sample>) throws(WALError) {
        try state.withLock { (s) throws(WALError) in
            guard !s.closed else { throw WALError("WAL is closed") }
            if s.offset >= options.segmentSize { try cut(&s) }
            s.buffer.removeAll(keepingCapacity: true)
            if !s.pendingSeries.isEmpty {
                s.payload.removeAll(keepingCapacity: true)
                for (ref, labels) in s.pendingSeries { WALCodec.appendSeries(&s.payload, ref: ref, labels: labels) }
                s.payload.withUnsafeBytes { WALFormat.appendRecord(&s.buffer, type: .series, payload: $0) }
            }
            if !samples.isEmpty {
                s.payload.removeAll(keepingCapacity: true)
                WALCodec.appendSamples(&s.payload, samples)
                s.payload.withUnsafeBytes { WALFormat.appendRecord(&s.buffer, type: .samples, payload: $0) }
            }
            guard !s.buffer.isEmpty else { return }
            try write(&s)
            seriesCreated.increment(by: Int64(s.pendingSeries.count))
            s.pendingSeries.removeAll(keepingCapacity: true)
            samplesAppended.increment(by: Int64(samples.count))
            var highest = s.highestTimestamp
            for sample in samples where sample.timestamp > highest { highest = sample.timestamp }
            if highest > s.highestTimestamp {
                s.highestTimestamp = highest
                highestTimestampGauge.set(Double(highest) / 1000)
            }
        }
    }

    /// Array convenience for ``append(_:)-(UnsafeBufferPointer<Sample>)``.
    public func append(_ samples: [Sample]) throws(WALError) {
        try samples.withUnsafeBufferPointer { (p) throws(WALError) in try append(p) }
    }

    /// Writes `s.buffer` at the end of the head segment; on error cuts the file back so no partial
    /// record remains.
    private func write(_ s: inout State) throws(WALError) {
        let path = segmentDirectory + "/" + WALFormat.segmentName(s.segment)
        let fd = s.fd
        do {
            try FileIO.writeAll(fd, s.buffer, path: path)
        } catch {
            _ = ftruncate(fd, off_t(s.offset))
            _ = lseek(fd, off_t(s.offset), SEEK_SET)
            appendFailures.increment()
            status?.updateWAL { $0.lastError = error.description }
            throw error
        }
        s.offset += Int64(s.buffer.count)
        s.dirty = true
        bytesWritten.increment(by: Int64(s.buffer.count))
    }

    /// Closes the head segment and starts the next, beginning with every known series.
    private func cut(_ s: inout State) throws(WALError) {
        if s.fd >= 0 {
            if fsync(s.fd) == 0 { syncs.increment() }
            Glibc.close(s.fd)
            s.fd = -1
        }
        let next = s.segment + 1
        let path = segmentDirectory + "/" + WALFormat.segmentName(next)
        let fd = try FileIO.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC)
        s.fd = fd
        s.segment = next
        s.offset = 0
        FileIO.fsyncDirectory(segmentDirectory)
        s.buffer = WALFormat.segmentHeader
        let all = s.series.sorted { $0.value < $1.value }
        let queued = Set(s.pendingSeries.map { $0.0 })
        s.payload.removeAll(keepingCapacity: true)
        for (labels, ref) in all where !queued.contains(ref) {
            WALCodec.appendSeries(&s.payload, ref: ref, labels: labels)
        }
        if !s.payload.isEmpty {
            s.payload.withUnsafeBytes { WALFormat.appendRecord(&s.buffer, type: .series, payload: $0) }
        }
        try write(&s)
        segmentGauge.set(Double(next))
        truncate(&s)
        logger.debug("WAL segment started", metadata: ["segment": "\(next)"])
    }

    /// Deletes segments every registered reader has finished; with no readers, every closed segment.
    private func truncate(_ s: inout State) {
        let keepFrom = min(s.readers.values.map(\.segment).min() ?? s.segment, s.segment)
        guard keepFrom > s.firstSegment else { return }
        for seg in s.firstSegment..<keepFrom {
            unlink(segmentDirectory + "/" + WALFormat.segmentName(seg))
        }
        FileIO.fsyncDirectory(segmentDirectory)
        logger.debug("WAL segments removed", metadata: ["from": "\(s.firstSegment)", "to": "\(keepFrom - 1)"])
        s.firstSegment = keepFrom
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
    public var seriesCount: Int { state.withLock { $0.series.count } }

    /// Newest sample timestamp appended, in milliseconds.
    public var highestTimestamp: Int64 { state.withLock { $0.highestTimestamp } }

    // MARK: - Readers

    /// Registers a reader and returns where it starts: its persisted cursor, clamped to what is on
    /// disk, or the head for a reader never seen before.
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
            s.readers[name] = cursor.position
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

    /// Persists an acknowledged read position and lets older segments go.
    public func commit(reader name: String, cursor: WALCursor) throws(WALError) {
        try CursorStore.save(directory: cursorDirectory, name: name, cursor: cursor)
        state.withLock { s in
            s.readers[name] = cursor.position
        }
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

    /// Publishes size and series counts to the status board.
    public func publishStatus() {
        guard let status else { return }
        let (first, head, series) = state.withLock { ($0.firstSegment, $0.segment, $0.series.count) }
        var bytes: Int64 = 0
        for seg in first...max(first, head) {
            bytes += FileIO.size(segmentDirectory + "/" + WALFormat.segmentName(seg)) ?? 0
        }
        status.updateWAL { w in
            w.directory = options.directory
            w.segments = head - first + 1
            w.bytesOnDisk = bytes
            w.series = series
            w.headSegment = head
        }
    }
}
