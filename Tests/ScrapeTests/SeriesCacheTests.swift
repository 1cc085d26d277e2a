import OutpostModel
import Testing

@testable import Scrape

@Suite struct SeriesCacheTests {
    private func key(_ i: Int) -> SeriesCache.Key {
        let line = Array("metric_\(i){job=\"x\"}".utf8)
        return line.withUnsafeBytes { SeriesCache.key($0) }
    }

    /// Every entry is found through growth of the index past three quarters full, and after the
    /// spare room of the entries is given back; an unknown line is not found.
    @Test func entriesAreFoundThroughGrowthAndTrimming() {
        var cache = SeriesCache()
        for i in 0..<2500 {
            let e = cache.insert(key(i), ref: SeriesRef(UInt64(i + 1)), seen: 1)
            #expect(e == i)
        }
        #expect(cache.entries.capacity >= 2500)
        cache.trim()
        #expect(cache.count == 2500)
        #expect(cache.entries.capacity <= 2500 + 2500 / 8 + 64)
        for i in 0..<2500 {
            guard let e = cache.find(key(i)) else {
                Issue.record("line \(i) not found")
                continue
            }
            #expect(cache.entries[e].ref == SeriesRef(UInt64(i + 1)))
        }
        #expect(cache.find(key(2500)) == nil)
        // More after trimming: the array grows again and every entry is still there.
        for i in 2500..<2600 { cache.insert(key(i), ref: SeriesRef(UInt64(i + 1)), seen: 2) }
        #expect((0..<2600).allSatisfy { cache.find(key($0)).map { cache.entries[$0].ref } == SeriesRef(UInt64($0 + 1)) })
        #expect(cache.insert(key(9999), ref: SeriesRef(1 << 32), seen: 2) == nil)
    }
}
