import OutpostModel
import Relabel
import Testing

@testable import RemoteWrite

/// A generic protobuf wire-format reader (not tied to our encoder): field number → raw values.
struct ProtoMessage {
    var fields: [(number: Int, varint: UInt64?, fixed64: UInt64?, bytes: [UInt8]?)] = []

    init?(_ bytes: [UInt8]) {
        var i = 0
        func varint() -> UInt64? {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while i < bytes.count {
                let b = bytes[i]
                i += 1
                v |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return v }
                shift += 7
            }
            return nil
        }
        while i < bytes.count {
            guard let key = varint() else { return nil }
            let number = Int(key >> 3)
            switch key & 7 {
            case 0:
                guard let v = varint() else { return nil }
                fields.append((number, v, nil, nil))
            case 1:
                guard i + 8 <= bytes.count else { return nil }
                var v: UInt64 = 0
                for k in 0..<8 { v |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
                i += 8
                fields.append((number, nil, v, nil))
            case 2:
                guard let n = varint(), i + Int(n) <= bytes.count else { return nil }
                fields.append((number, nil, nil, Array(bytes[i..<(i + Int(n))])))
                i += Int(n)
            default:
                return nil
            }
        }
    }

    func messages(_ number: Int) -> [ProtoMessage] {
        fields.filter { $0.number == number }.compactMap { $0.bytes.flatMap(ProtoMessage.init) }
    }
    func string(_ number: Int) -> String? {
        fields.first { $0.number == number }?.bytes.map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Decodes a WriteRequest into (labels, [(timestamp, value)]) per time series.
func decodeWriteRequest(_ bytes: [UInt8]) -> [([String: String], [(Int64, Double)])]? {
    guard let request = ProtoMessage(bytes) else { return nil }
    return request.messages(1).map { ts in
        var labels: [String: String] = [:]
        for l in ts.messages(1) { labels[l.string(1) ?? ""] = l.string(2) ?? "" }
        let samples = ts.messages(2).map { s -> (Int64, Double) in
            let value = Double(bitPattern: s.fields.first { $0.number == 1 }?.fixed64 ?? 0)
            let t = Int64(bitPattern: s.fields.first { $0.number == 2 }?.varint ?? 0)
            return (t, value)
        }
        return (labels, samples)
    }
}

@Suite struct WriteRequestEncoderTests {
    @Test func groupsSamplesBySeriesKeepingOrderAndMergesExternalLabels() throws {
        var cache = SeriesLabelCache(externalLabels: Labels([("cluster", "c1"), ("job", "external-loses")]))
        cache.add(SeriesRef(1), Labels([("__name__", "up"), ("job", "node")]))
        cache.add(SeriesRef(2), Labels([("__name__", "load"), ("zone", "z")]))
        let samples = [
            Sample(ref: SeriesRef(2), timestamp: 1_000, value: 0.5),
            Sample(ref: SeriesRef(1), timestamp: 1_000, value: 1),
            Sample(ref: SeriesRef(2), timestamp: 2_000, value: 0.75),
            Sample(ref: SeriesRef(9), timestamp: 2_000, value: 3),
            Sample(ref: SeriesRef(1), timestamp: -5, value: StaleNaN.value),
        ]
        var encoder = WriteRequestEncoder()
        let (encoded, unknown, dropped) = encoder.encode(samples, labels: cache)
        #expect(encoded == 4)
        #expect(unknown == 1)
        #expect(dropped == 0)
        let series = try #require(decodeWriteRequest(encoder.buffer))
        #expect(series.count == 2)
        #expect(series[0].0 == ["__name__": "up", "job": "node", "cluster": "c1"])
        #expect(series[0].1.map(\.0) == [1_000, -5])
        #expect(series[0].1[1].1.bitPattern == StaleNaN.bits)
        #expect(series[1].0 == ["__name__": "load", "zone": "z", "cluster": "c1", "job": "external-loses"])
        #expect(series[1].1.map(\.0) == [1_000, 2_000])
        #expect(series[1].1.map(\.1) == [0.5, 0.75])
    }

    @Test func batchWithoutRepeatsKeepsSampleOrderAndTheEncoderIsReusable() throws {
        var cache = SeriesLabelCache(externalLabels: .empty)
        for r in 1...3 { cache.add(SeriesRef(UInt64(r)), Labels([("__name__", "m\(r)")])) }
        cache.add(SeriesRef(2), Labels([("__name__", "changed")]))  // a known ref keeps its first labels
        #expect(cache.count == 3)
        var encoder = WriteRequestEncoder()
        let refs: [UInt64] = [3, 1, 2]
        _ = encoder.encode(refs.map { Sample(ref: SeriesRef($0), timestamp: 5, value: Double($0)) }, labels: cache)
        let first = try #require(decodeWriteRequest(encoder.buffer))
        #expect(first.map { $0.0["__name__"] } == ["m3", "m1", "m2"])
        #expect(first.map { $0.1[0].1 } == [3, 1, 2])
        // The next batch repeats a series: grouped by ref, each series' samples in order.
        let next = [
            Sample(ref: SeriesRef(3), timestamp: 6, value: 30), Sample(ref: SeriesRef(1), timestamp: 6, value: 10),
            Sample(ref: SeriesRef(3), timestamp: 7, value: 31), Sample(ref: SeriesRef(1 << 40), timestamp: 7, value: 0),
        ]
        let (encoded, unknown, dropped) = encoder.encode(next, labels: cache)
        #expect(encoded == 3 && unknown == 1 && dropped == 0)
        let second = try #require(decodeWriteRequest(encoder.buffer))
        #expect(second.map { $0.0["__name__"] } == ["m1", "m3"])
        #expect(second[1].1.map(\.1) == [30, 31])
    }

    @Test func labelsAreSentSortedByName() throws {
        var cache = SeriesLabelCache(externalLabels: Labels([("a", "1"), ("zz", "2")]))
        cache.add(SeriesRef(1), Labels([("__name__", "m"), ("m", "x")]))
        var encoder = WriteRequestEncoder()
        _ = encoder.encode([Sample(ref: SeriesRef(1), timestamp: 1, value: 1)], labels: cache)
        let request = try #require(ProtoMessage(encoder.buffer))
        let names = request.messages(1)[0].messages(1).compactMap { $0.string(1) }
        #expect(names == ["__name__", "a", "m", "zz"])
    }

    @Test func writeRelabelingSeesExternalLabelsAndDropsSeries() throws {
        let rules = [
            try RelabelRule(action: .drop, sourceLabels: ["__name__"], regex: "go_.*"),
            try RelabelRule(sourceLabels: ["cluster"], targetLabel: "origin", replacement: "from-$1"),
        ]
        var cache = SeriesLabelCache(externalLabels: Labels([("cluster", "c1")]), writeRelabel: rules)
        cache.add(SeriesRef(1), Labels([("__name__", "up")]))
        cache.add(SeriesRef(2), Labels([("__name__", "go_goroutines")]))
        var encoder = WriteRequestEncoder()
        let samples = [Sample(ref: SeriesRef(1), timestamp: 1, value: 1), Sample(ref: SeriesRef(2), timestamp: 1, value: 2)]
        let (encoded, unknown, dropped) = encoder.encode(samples, labels: cache)
        #expect(encoded == 1 && unknown == 0 && dropped == 1)
        let series = try #require(decodeWriteRequest(encoder.buffer))
        #expect(series.count == 1)
        #expect(series[0].0 == ["__name__": "up", "cluster": "c1", "origin": "from-c1"])
    }

    @Test func snappyRoundTrips() throws {
        let input = Array((0..<10_000).map { UInt8(truncatingIfNeeded: $0 % 251) })
        var compressed: [UInt8] = []
        Snappy.compress(input, into: &compressed)
        #expect(compressed.count < input.count)
        #expect(Snappy.decompress(compressed) == input)
        #expect(Snappy.decompress([0xff, 0xff, 0xff]) == nil)
    }
}
