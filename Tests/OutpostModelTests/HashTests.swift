import OutpostModel
import Testing

@Suite struct HashTests {
    private func hash128(_ s: String) -> (low: UInt64, high: UInt64) {
        Array(s.utf8).withUnsafeBytes { TableHash.hash128($0) }
    }

    @Test func lowHalfIsTheTableHash() {
        for s in ["", "a", "up", "node_cpu_seconds_total{cpu=\"7\",mode=\"idle\"}", String(repeating: "x", count: 33)] {
            let table = Array(s.utf8).withUnsafeBytes { TableHash.hash($0) }
            #expect(hash128(s).low == table, "\(s)")
        }
    }

    /// Series lines that differ in one character (in every position of every 8-byte word, and in
    /// length), as a scrape cache meets them: no two share either half.
    @Test func nearbySeriesLinesDiffer() {
        var lows: Set<UInt64> = []
        var highs: Set<UInt64> = []
        var count = 0
        for cpu in 0..<64 {
            for mode in ["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"] {
                for suffix in ["", "_1", "_2", "_12"] {
                    let line = "node_cpu_seconds_total\(suffix){cpu=\"\(cpu)\",mode=\"\(mode)\"}"
                    let h = hash128(line)
                    lows.insert(h.low)
                    highs.insert(h.high)
                    count += 1
                }
            }
        }
        let base = Array("http_request_duration_seconds_bucket{handler=\"/api/v1/query\",le=\"0.1\"}".utf8)
        for i in base.indices {
            var changed = base
            changed[i] ^= 1
            let h = changed.withUnsafeBytes { TableHash.hash128($0) }
            lows.insert(h.low)
            highs.insert(h.high)
            count += 1
        }
        for n in 0...base.count {
            let h = base[..<n].withUnsafeBytes { TableHash.hash128($0) }
            lows.insert(h.low)
            highs.insert(h.high)
            count += 1
        }
        #expect(count == 64 * 8 * 4 + 2 * base.count + 1)
        #expect(lows.count == count)
        #expect(highs.count == count)
    }
}
