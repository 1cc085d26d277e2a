import OutpostModel
import Testing

@Suite struct LabelsTests {
    @Test func sortsByNameAndDropsEmptyValues() {
        let labels = Labels([("job", "node"), ("__name__", "up"), ("empty", ""), ("instance", "a:1")])
        #expect(labels.pairs.map(\.name) == ["__name__", "instance", "job"])
        #expect(labels["job"] == "node")
        #expect(labels["empty"] == nil)
        #expect(labels.count == 3)
        #expect(labels.description == #"up{instance="a:1", job="node"}"#)
    }

    @Test func equalityIsIndependentOfInputOrder() {
        let a = Labels([("b", "2"), ("a", "1")])
        let b = Labels([("a", "1"), ("b", "2")])
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != Labels([("a", "1"), ("b", "3")]))
    }

    @Test func builderReplacesAndRemoves() {
        var b = LabelsBuilder(Labels([("a", "1"), ("b", "2")]))
        b.set("a", "9")
        b.remove("b")
        b.set("c", "3")
        #expect(b.labels().pairs.map { "\($0.name)=\($0.value)" } == ["a=9", "c=3"])
    }

    @Test(arguments: [UInt64(0), 1, 127, 128, 300, 16_383, 16_384, UInt64.max])
    func uvarintRoundTrips(value: UInt64) {
        var out: [UInt8] = []
        appendUVarint(&out, value)
        let back = out.withUnsafeBytes { raw -> UInt64? in
            var r = ByteReader(raw)
            return r.uvarint()
        }
        #expect(back == value)
    }

    @Test(arguments: [Int64(0), 1, -1, 63, -64, 1_000_000, Int64.min, Int64.max])
    func varintRoundTrips(value: Int64) {
        var out: [UInt8] = []
        appendVarint(&out, value)
        let back = out.withUnsafeBytes { raw -> Int64? in
            var r = ByteReader(raw)
            return r.varint()
        }
        #expect(back == value)
    }

    @Test func truncatedVarintIsNil() {
        let bytes: [UInt8] = [0x80, 0x80]
        let v = bytes.withUnsafeBytes { raw -> UInt64? in
            var r = ByteReader(raw)
            return r.uvarint()
        }
        #expect(v == nil)
    }

    @Test func staleNaNIsDistinctFromNaN() {
        #expect(StaleNaN.isStale(StaleNaN.value))
        #expect(!StaleNaN.isStale(Double.nan))
        #expect(StaleNaN.value.bitPattern == 0x7ff0_0000_0000_0002)
    }
}

@Suite struct CanonicalWalkTests {
    /// Short names and values take the one-byte-length path, long ones (two-byte lengths) the
    /// varint reader, mixed in any order: the pairs come back the same either way.
    @Test func longAndShortPairsWalkAlike() {
        let long = String(repeating: "v", count: 200)
        let pairs = [
            ("__name__", "up"), ("a", long), (String(repeating: "n", count: 130), "x"), ("b", ""), ("c", "short"),
        ]
        let labels = Labels(pairs)
        var seen: [(String, String)] = []
        labels.bytes.withUnsafeBytes { raw in
            Labels.forEach(canonical: raw) { n, v in
                seen.append((String(decoding: n, as: UTF8.self), String(decoding: v, as: UTF8.self)))
            }
        }
        #expect(seen.map(\.0) == ["__name__", "a", "c", String(repeating: "n", count: 130)])
        #expect(seen.map(\.1) == ["up", long, "short", "x"])
        // A truncated buffer stops without reading past its end.
        var truncated: [(String, String)] = []
        Array(labels.bytes.prefix(labels.bytes.count - 3)).withUnsafeBytes { raw in
            Labels.forEach(canonical: raw) { n, _ in truncated.append((String(decoding: n, as: UTF8.self), "")) }
        }
        #expect(truncated.map(\.0) == ["__name__", "a", "c"])
    }
}
