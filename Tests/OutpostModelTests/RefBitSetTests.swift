import OutpostModel
import Testing

@Suite struct RefBitSetTests {
    @Test func membersAcrossWordEdgesAndAfterGrowth() {
        var set = RefBitSet()
        let members = [0, 1, 63, 64, 65, 127, 128, 10_000, 1 << 20]
        let added = members.map { set.insert($0) }
        #expect(added.allSatisfy { $0 })
        let again = [set.insert(64), set.insert(1 << 20)]
        #expect(again == [false, false])
        for m in members { #expect(set.contains(m)) }
        for n in [2, 62, 66, 126, 129, 9_999, 10_001, (1 << 20) + 1, 1 << 30, -1] { #expect(!set.contains(n)) }

        set.remove(64)
        set.remove(1 << 30)  // never there, beyond the words: nothing happens
        #expect(!set.contains(64) && set.contains(63) && set.contains(65))
        let back = set.insert(64)
        #expect(back)

        set.removeAll()
        for m in members { #expect(!set.contains(m)) }
        let fresh = set.insert(10_000)
        #expect(fresh && set.contains(10_000) && !set.contains(128))
    }
}
