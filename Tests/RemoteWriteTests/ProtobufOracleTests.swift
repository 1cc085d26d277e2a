import Foundation
import Logging
import OutpostConfig
import OutpostModel
import Relabel
import RemoteWriteProto
import SwiftProtobuf
import Telemetry
import Testing
import WAL

@testable import RemoteWrite

/// The hand-written encoders against swift-protobuf's, generated from proto/*.proto: the same
/// message must give the same bytes, and our bytes must decode to what was meant.
@Suite struct ProtobufOracleTests {
    /// A batch with what tends to go wrong: repeats of a series, a zero and a negative-zero value,
    /// NaN (staleness), a zero and a negative timestamp, an unknown series.
    static let samples = [
        Sample(ref: SeriesRef(2), timestamp: 1_700_000_000_000, value: 0.5),
        Sample(ref: SeriesRef(1), timestamp: 1_700_000_000_000, value: 0),
        Sample(ref: SeriesRef(3), timestamp: 0, value: -0.0),
        Sample(ref: SeriesRef(2), timestamp: 1_700_000_015_000, value: StaleNaN.value),
        Sample(ref: SeriesRef(7), timestamp: 1, value: 1),
        Sample(ref: SeriesRef(1), timestamp: -5, value: 1e300),
    ]
    static let series: [(UInt64, [(String, String)])] = [
        (1, [("__name__", "http_requests_total"), ("code", "200"), ("job", "api")]),
        (2, [("__name__", "http_request_duration_seconds_bucket"), ("job", "api"), ("le", "0.5")]),
        (3, [("__name__", "temperature_celsius"), ("room", "ü ☃")]),
    ]
    static let external = Labels([("cluster", "eu-1")])
    static let metadata = [
        MetricMetadata(family: "http_requests_total", type: .counter, help: "Requests \"served\".\nAll of them."),
        MetricMetadata(family: "http_request_duration_seconds", type: .histogram, help: "Latency.", unit: "seconds"),
    ]

    static func cache(_ format: RemoteWriteConfig.ProtobufMessage, starts: [SeriesStart] = []) -> SeriesLabelCache {
        var c = SeriesLabelCache(externalLabels: external, format: format)
        for m in metadata { c.addMetadata(m) }
        for (ref, l) in series { c.add(SeriesRef(ref), Labels(l)) }
        var record: [UInt8] = []
        WALCodec.appendStarts(&record, starts)
        #expect(record.withUnsafeBytes { c.addStarts($0) })
        return c
    }

    /// Series in the order the encoder groups them (first appearance, each one's samples in order).
    static func grouped() -> [(labels: [(String, String)], samples: [Sample])] {
        var order: [UInt64] = []
        var bySeries: [UInt64: [Sample]] = [:]
        for s in samples where series.contains(where: { $0.0 == s.ref.rawValue }) {
            if bySeries[s.ref.rawValue] == nil { order.append(s.ref.rawValue) }
            bySeries[s.ref.rawValue, default: []].append(s)
        }
        // The encoder sorts by ref when a series repeats, which this batch does.
        order.sort()
        return order.map { ref in
            let own = series.first { $0.0 == ref }?.1 ?? []
            let merged = (own + [("cluster", "eu-1")]).sorted { $0.0 < $1.0 }
            return (merged, bySeries[ref] ?? [])
        }
    }

    @Test func version1MatchesSwiftProtobufByteForByte() throws {
        var encoder = WriteRequestEncoder()
        let (encoded, unknown, _) = encoder.encode(Self.samples, labels: Self.cache(.v1))
        #expect(encoded == 5 && unknown == 1)
        var expected = Prometheus_WriteRequest()
        for g in Self.grouped() {
            var ts = Prometheus_TimeSeries()
            ts.labels = g.labels.map { var l = Prometheus_Label(); l.name = $0.0; l.value = $0.1; return l }
            ts.samples = g.samples.map { var s = Prometheus_Sample(); s.value = $0.value; s.timestamp = $0.timestamp; return s }
            expected.timeseries.append(ts)
        }
        let bytes: [UInt8] = try expected.serializedBytes()
        #expect(encoder.buffer == bytes)
    }

    /// Start times for the counter (recent) and the histogram (negative: ten varint bytes).
    static let starts = [SeriesStart(ref: SeriesRef(1), start: 1_699_999_000_123), SeriesStart(ref: SeriesRef(2), start: -1)]

    @Test(arguments: [[], starts])
    func version2MatchesSwiftProtobufByteForByteAndDecodesToTheSeries(starts: [SeriesStart]) throws {
        var encoder = WriteRequestV2Encoder()
        let (encoded, unknown, _) = encoder.encode(Self.samples, labels: Self.cache(.v2, starts: starts))
        #expect(encoded == 5 && unknown == 1)
        // Build the expected request: symbols in first-use order, "" first.
        var symbols = [""]
        func ref(_ s: String) -> UInt32 {
            if let i = symbols.firstIndex(of: s) { return UInt32(i) }
            symbols.append(s)
            return UInt32(symbols.count - 1)
        }
        var expected = Io_Prometheus_Write_V2_Request()
        for g in Self.grouped() {
            var ts = Io_Prometheus_Write_V2_TimeSeries()
            for (n, v) in g.labels { ts.labelsRefs += [ref(n), ref(v)] }
            ts.samples = g.samples.map { sample in
                var s = Io_Prometheus_Write_V2_Sample()
                s.value = sample.value
                s.timestamp = sample.timestamp
                s.startTimestamp = starts.first { $0.ref == sample.ref }?.start ?? 0
                return s
            }
            let name = g.labels.first { $0.0 == "__name__" }?.1 ?? ""
            var md = Io_Prometheus_Write_V2_Metadata()
            if let m = Self.metadata.first(where: { $0.family == name || name.hasPrefix($0.family + "_") }) {
                md.type = Io_Prometheus_Write_V2_Metadata.MetricType(rawValue: Int(WriteRequestV2Encoder.wireType(m.type))) ?? .unspecified
                md.helpRef = ref(m.help)
                md.unitRef = ref(m.unit)
            }
            ts.metadata = md
            expected.timeseries.append(ts)
        }
        expected.symbols = symbols
        let bytes: [UInt8] = try expected.serializedBytes()
        #expect(encoder.buffer == bytes)

        // And reading ours back with swift-protobuf gives the labels, samples and metadata.
        let decoded = try Io_Prometheus_Write_V2_Request(serializedBytes: encoder.buffer)
        #expect(decoded.symbols.first == "")
        let first = try #require(decoded.timeseries.first)
        let labels = stride(from: 0, to: first.labelsRefs.count, by: 2).map {
            (decoded.symbols[Int(first.labelsRefs[$0])], decoded.symbols[Int(first.labelsRefs[$0 + 1])])
        }
        #expect(labels.map(\.0) == ["__name__", "cluster", "code", "job"])
        #expect(labels.map(\.1) == ["http_requests_total", "eu-1", "200", "api"])
        #expect(first.metadata.type == .counter)
        #expect(first.samples.map(\.startTimestamp) == (starts.isEmpty ? [0, 0] : [1_699_999_000_123, 1_699_999_000_123]))
        #expect(decoded.symbols[Int(first.metadata.helpRef)] == "Requests \"served\".\nAll of them.")
        let histogram = decoded.timeseries[1]
        #expect(histogram.metadata.type == .histogram)
        #expect(decoded.symbols[Int(histogram.metadata.unitRef)] == "seconds")
        #expect(histogram.samples.map(\.timestamp) == [1_700_000_000_000, 1_700_000_015_000])
        #expect(histogram.samples[1].value.bitPattern == StaleNaN.bits)
        let untyped = decoded.timeseries[2]
        #expect(untyped.metadata.type == .unspecified && untyped.metadata.helpRef == 0)
        #expect(untyped.samples[0].value.bitPattern == (-0.0 as Double).bitPattern)
    }

    /// 1.0 without write relabeling reads labels from the WAL's series table instead of keeping a
    /// copy: the requests must not change by a byte, with or without external labels.
    @Test(arguments: [external, Labels.empty])
    func version1WithLabelsFromTheWALEncodesTheSameBytes(external: Labels) throws {
        let dir = NSTemporaryDirectory() + "outpost-rw-shared-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wal = try WriteAheadLog(
            options: WriteAheadLog.Options(directory: dir), registry: MetricsRegistry(), logger: Logger(label: "test"))
        defer { wal.close() }
        // The known series, and one with a value too long for one-byte lengths.
        let series = Self.series + [(4, [("__name__", "long_value"), ("v", String(repeating: "x", count: 300))])]
        var shared = SeriesLabelCache(externalLabels: external, format: .v1, shared: wal)
        var kept = SeriesLabelCache(externalLabels: external, format: .v1)
        #expect(shared.shared != nil)
        for (ref, l) in series {
            #expect(wal.seriesRef(for: Labels(l)) == SeriesRef(ref))
            shared.addDeclared(SeriesRef(ref))
            kept.add(SeriesRef(ref), Labels(l))
        }
        let samples = Self.samples + [Sample(ref: SeriesRef(4), timestamp: 3, value: 4)]
        let exemplars = ExemplarEncodingTests.exemplars(&kept)
        var a = WriteRequestEncoder()
        var b = WriteRequestEncoder()
        let counts = a.encode(samples, exemplars: exemplars, labels: kept)
        #expect(b.encode(samples, exemplars: exemplars, labels: shared) == counts)
        #expect(counts.encoded == 6 && counts.unknown == 1)
        #expect(a.buffer == b.buffer)
        // Reused for another batch.
        #expect(b.encode([Sample(ref: SeriesRef(3), timestamp: 9, value: 2)], labels: shared).encoded == 1)
        #expect(a.encode([Sample(ref: SeriesRef(3), timestamp: 9, value: 2)], labels: kept).encoded == 1)
        #expect(a.buffer == b.buffer)
        // Write relabeling needs labels of its own: no sharing then.
        let relabeled = SeriesLabelCache(
            externalLabels: external, writeRelabel: [try RelabelRule(action: .drop, sourceLabels: ["room"], regex: "x")],
            format: .v1, shared: wal)
        #expect(relabeled.shared == nil)
    }

    @Test func theEncodersAreReusableAcrossBatches() throws {
        var encoder = WriteRequestV2Encoder()
        let cache = Self.cache(.v2)
        _ = encoder.encode(Self.samples, labels: cache)
        _ = encoder.encode([Sample(ref: SeriesRef(3), timestamp: 9, value: 2)], labels: cache)
        let decoded = try Io_Prometheus_Write_V2_Request(serializedBytes: encoder.buffer)
        // Only the symbols this request uses, renumbered from scratch.
        #expect(decoded.symbols == ["", "__name__", "temperature_celsius", "cluster", "eu-1", "room", "ü ☃"])
        #expect(decoded.timeseries.count == 1)
        #expect(decoded.timeseries[0].labelsRefs == [1, 2, 3, 4, 5, 6])
    }

    @Test func version1MetadataRequestsMatchSwiftProtobuf() throws {
        var out: [UInt8] = []
        MetadataRequestEncoder.encode(Self.metadata[...], into: &out)
        var expected = Prometheus_WriteRequest()
        expected.metadata = Self.metadata.map { m in
            var e = Prometheus_MetricMetadata()
            e.type = Prometheus_MetricMetadata.MetricType(rawValue: Int(WriteRequestV2Encoder.wireType(m.type))) ?? .unknown
            e.metricFamilyName = m.family
            e.help = m.help
            e.unit = m.unit
            return e
        }
        let bytes: [UInt8] = try expected.serializedBytes()
        #expect(out == bytes)
    }
}

@Suite struct ExemplarEncodingTests {
    static let exemplarLabels = Labels([("trace_id", "4bf92f3577b34da6"), ("span_id", "00f067aa0ba902b7")])

    static func exemplars(_ cache: inout SeriesLabelCache) -> [OutgoingExemplar] {
        [(UInt64(1), Int64(1_700_000_000_123), 0.25), (2, 0, 0)].map { ref, ts, value in
            let (bytes, symbols) = cache.exemplarLabels(exemplarLabels)
            return OutgoingExemplar(ref: SeriesRef(ref), timestamp: ts, value: value, labelBytes: bytes, symbols: symbols)
        }
    }

    @Test func version1SendsEachExemplarAsItsOwnSeriesEntry() throws {
        var cache = ProtobufOracleTests.cache(.v1)
        let exemplars = Self.exemplars(&cache)
        var encoder = WriteRequestEncoder()
        let samples = [Sample(ref: SeriesRef(1), timestamp: 5, value: 1)]
        _ = encoder.encode(samples, exemplars: exemplars, labels: cache)
        var expected = Prometheus_WriteRequest()
        func labels(_ pairs: [(String, String)]) -> [Prometheus_Label] {
            pairs.map { var l = Prometheus_Label(); l.name = $0.0; l.value = $0.1; return l }
        }
        let merged = ProtobufOracleTests.series.map { ($0.1 + [("cluster", "eu-1")]).sorted { $0.0 < $1.0 } }
        var ts = Prometheus_TimeSeries()
        ts.labels = labels(merged[0])
        var s = Prometheus_Sample()
        s.value = 1
        s.timestamp = 5
        ts.samples = [s]
        expected.timeseries.append(ts)
        for (i, e) in exemplars.enumerated() {
            var t = Prometheus_TimeSeries()
            t.labels = labels(merged[i])
            var x = Prometheus_Exemplar()
            x.labels = labels(Self.exemplarLabels.pairs.map { ($0.name, $0.value) })
            x.value = e.value
            x.timestamp = e.timestamp
            t.exemplars = [x]
            expected.timeseries.append(t)
        }
        let bytes: [UInt8] = try expected.serializedBytes()
        #expect(encoder.buffer == bytes)
    }

    @Test func version2ExemplarsUseTheRequestSymbols() throws {
        var cache = ProtobufOracleTests.cache(.v2)
        let exemplars = Self.exemplars(&cache)
        var encoder = WriteRequestV2Encoder()
        _ = encoder.encode([Sample(ref: SeriesRef(1), timestamp: 5, value: 1)], exemplars: exemplars, labels: cache)
        let decoded = try Io_Prometheus_Write_V2_Request(serializedBytes: encoder.buffer)
        #expect(decoded.timeseries.count == 3)
        let withExemplar = decoded.timeseries[1]
        #expect(withExemplar.samples.isEmpty)
        #expect(withExemplar.metadata.type == .counter)
        let x = try #require(withExemplar.exemplars.first)
        #expect(x.value == 0.25 && x.timestamp == 1_700_000_000_123)
        let pairs = stride(from: 0, to: x.labelsRefs.count, by: 2).map {
            decoded.symbols[Int(x.labelsRefs[$0])] + "=" + decoded.symbols[Int(x.labelsRefs[$0 + 1])]
        }
        #expect(pairs == ["span_id=00f067aa0ba902b7", "trace_id=4bf92f3577b34da6"])
        // Re-encoding the decoded message gives our bytes back: field order and packing agree.
        let again: [UInt8] = try decoded.serializedBytes()
        #expect(again == encoder.buffer)
    }
}
