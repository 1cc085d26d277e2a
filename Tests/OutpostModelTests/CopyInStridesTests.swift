import OutpostModel
import Testing

@Suite struct CopyInStridesTests {
    /// Every length from 0 to 40 arrives whole; nothing is written beyond the slack.
    @Test func copiesEveryLengthAndStaysWithinTheSlack() {
        let source = (0..<(40 + strideSlack)).map { UInt8($0 + 1) }
        for count in 0...40 {
            var target = [UInt8](repeating: 0xEE, count: 64 + strideSlack)
            source.withUnsafeBytes { s in
                target.withUnsafeMutableBytes { t in
                    guard let tb = t.baseAddress, let sb = s.baseAddress else { return }
                    copyInStrides(tb + 4, sb, count: count)
                }
            }
            #expect(Array(target[4..<(4 + count)]) == Array(source[0..<count]), "count \(count)")
            #expect(target[0..<4].allSatisfy { $0 == 0xEE })
            let written = (count + 15) / 16 * 16
            #expect(target[(4 + written)...].allSatisfy { $0 == 0xEE }, "count \(count)")
        }
    }
}
