/// A replacement template (`$1`, `${1}`, `$name`, `${name}`, `$$`) parsed once, expanded with Go's
/// `regexp.Expand` rules: the longest run of letters, digits and `_` after `$` is the name (so
/// `$1x` names group "1x", which does not exist, and expands to nothing); a name that is a number
/// without a leading zero is a group index; a group that does not exist or did not take part
/// expands to nothing; a `$` that starts no valid reference stays a literal `$`.
struct Template: Sendable {
    enum Part: Sendable {
        case literal([UInt8])
        /// A group index, or nil for a name no group has.
        case group(Int?)
    }
    let parts: [Part]
    /// Whether the template has any reference at all.
    var isLiteral: Bool { parts.allSatisfy { if case .literal = $0 { true } else { false } } }

    init(_ template: String, regex: RE2Regex) {
        var parts: [Part] = []
        var literal: [UInt8] = []
        var rest = Substring(template)
        func isNameChar(_ c: Character) -> Bool { c == "_" || c.isLetter || c.isNumber }
        while let dollar = rest.firstIndex(of: "$") {
            literal += Array(rest[..<dollar].utf8)
            rest = rest[rest.index(after: dollar)...]
            if rest.first == "$" {
                literal.append(UInt8(ascii: "$"))
                rest = rest.dropFirst()
                continue
            }
            var scan = rest
            let brace = scan.first == "{"
            if brace { scan = scan.dropFirst() }
            let name = scan.prefix(while: isNameChar)
            scan = scan.dropFirst(name.count)
            if name.isEmpty || (brace && scan.first != "}") {
                literal.append(UInt8(ascii: "$"))  // malformed: the $ is literal text
                continue
            }
            if brace { scan = scan.dropFirst() }
            rest = scan
            if !literal.isEmpty {
                parts.append(.literal(literal))
                literal = []
            }
            var number: Int? = 0
            for u in name.utf8 {
                guard u >= 48 && u <= 57, let n = number, n < 100_000_000 else {
                    number = nil
                    break
                }
                number = n * 10 + Int(u - 48)
            }
            if name.utf8.count > 1 && name.utf8.first == 48 { number = nil }
            if let number {
                parts.append(.group(number <= regex.groupCount ? number : nil))
            } else {
                parts.append(.group(regex.groupIndex(String(name))))
            }
        }
        literal += Array(rest.utf8)
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// Expands against `source` and the group `offsets` of a match on it.
    func expand(source: [UInt8], offsets: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        for part in parts {
            switch part {
            case .literal(let bytes):
                out += bytes
            case .group(let index):
                guard let index, 2 * index + 1 < offsets.count else { continue }
                let start = Int(offsets[2 * index])
                let end = Int(offsets[2 * index + 1])
                if start >= 0 && end >= start && end <= source.count { out += source[start..<end] }
            }
        }
        return out
    }
}
