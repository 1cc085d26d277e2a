/// A set of small non-negative integers (series refs) as one bit each, for what is yes-or-no per
/// series: 500,000 series cost 62 KB where an array of flags or numbers would cost megabytes.
public struct RefBitSet: Sendable {
    @usableFromInline var words: [UInt64] = []

    public init() {}

    @inlinable
    public func contains(_ i: Int) -> Bool {
        let word = i >> 6
        return i >= 0 && word < words.count && words[word] & (1 << UInt64(i & 63)) != 0
    }

    /// Adds `i` (not negative); false when it was already there.
    @inlinable @discardableResult
    public mutating func insert(_ i: Int) -> Bool {
        let word = i >> 6
        if word >= words.count {
            words.append(contentsOf: repeatElement(0, count: max(word + 1, words.count * 3 / 2, 16) - words.count))
        }
        let bit: UInt64 = 1 << UInt64(i & 63)
        if words[word] & bit != 0 { return false }
        words[word] |= bit
        return true
    }

    @inlinable
    public mutating func remove(_ i: Int) {
        let word = i >> 6
        guard i >= 0, word < words.count else { return }
        words[word] &= ~(1 << UInt64(i & 63))
    }

    /// Empties the set, keeping its memory for the next round of inserts.
    public mutating func removeAll() {
        words.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
