#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The identity of a series inside one Outpost process and its WAL: assigned on first sight of a
/// label set, written once as a series record, then used by every sample record.
public struct SeriesRef: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public static func < (a: SeriesRef, b: SeriesRef) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// One float sample of one series: a millisecond Unix timestamp and a value.
public struct Sample: Sendable, Equatable {
    public var ref: SeriesRef
    public var timestamp: Int64
    public var value: Double
    @inlinable
    public init(ref: SeriesRef, timestamp: Int64, value: Double) {
        self.ref = ref
        self.timestamp = timestamp
        self.value = value
    }

    public static func == (a: Sample, b: Sample) -> Bool {
        a.ref == b.ref && a.timestamp == b.timestamp && a.value.bitPattern == b.value.bitPattern
    }
}

/// When a series started counting (its OpenMetrics `_created` time), in milliseconds: the
/// remote-write 2.0 start timestamp of its samples.
public struct SeriesStart: Sendable, Equatable {
    public var ref: SeriesRef
    public var start: Int64
    @inlinable
    public init(ref: SeriesRef, start: Int64) {
        self.ref = ref
        self.start = start
    }
}

/// An exemplar attached to a sample: its own small label set (a trace ID, typically), value and
/// time, kept with the series it belongs to.
public struct Exemplar: Sendable, Equatable {
    public var ref: SeriesRef
    public var timestamp: Int64
    public var value: Double
    public var labels: Labels
    public init(ref: SeriesRef, timestamp: Int64, value: Double, labels: Labels) {
        self.ref = ref
        self.timestamp = timestamp
        self.value = value
        self.labels = labels
    }

    public static func == (a: Exemplar, b: Exemplar) -> Bool {
        a.ref == b.ref && a.timestamp == b.timestamp && a.value.bitPattern == b.value.bitPattern && a.labels == b.labels
    }
}

/// Prometheus' staleness marker: a NaN with one specific bit pattern, distinct from an exposed `NaN`.
public enum StaleNaN {
    public static let bits: UInt64 = 0x7ff0_0000_0000_0002
    public static let value = Double(bitPattern: bits)
    @inlinable public static func isStale(_ v: Double) -> Bool { v.bitPattern == bits }
}

/// Wall-clock time in the unit Prometheus uses for samples.
public enum Timestamp {
    /// Milliseconds since the Unix epoch.
    public static func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Nanoseconds since the Unix epoch.
    public static func nowNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
