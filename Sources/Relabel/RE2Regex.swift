import CRE2

/// A compiled RE2 regular expression: Go's regexp syntax and semantics, linear-time matching.
///
/// Relabel rules use it fully anchored, as Prometheus does (`^(?s:<regex>)$`), through
/// ``RE2Regex/anchored(_:)``.
///
/// `@unchecked Sendable`: the wrapped `RE2` object is immutable after construction and RE2
/// documents its const matching methods as safe to call from many threads at once; the pointer is
/// freed only in `deinit`, when no other reference exists.
public final class RE2Regex: @unchecked Sendable, CustomStringConvertible {
    private let re: OpaquePointer
    /// The pattern as written in the configuration.
    public let source: String
    /// Number of capturing groups.
    public let groupCount: Int

    /// Compiles `pattern` as is; throws the RE2 error text.
    public init(pattern: String, source: String? = nil) throws(RegexError) {
        var errorBuffer = [CChar](repeating: 0, count: 256)
        var p = pattern
        let compiled = p.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { cre2_compile($0.baseAddress, $0.count, &errorBuffer, errorBuffer.count) }
        }
        guard let compiled else {
            let message = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw RegexError(message: message)
        }
        re = compiled
        self.source = source ?? pattern
        groupCount = Int(cre2_num_groups(compiled))
    }

    /// Compiles `regex` the way Prometheus compiles relabel regexes: anchored at both ends, with `.`
    /// matching newlines.
    public static func anchored(_ regex: String) throws(RegexError) -> RE2Regex {
        try RE2Regex(pattern: "^(?s:" + regex + ")$", source: regex)
    }

    deinit { cre2_free(re) }

    public var description: String { source }

    /// Whether the whole of `text` matches.
    public func matches(_ text: UnsafeRawBufferPointer) -> Bool {
        cre2_full_match(re, text.baseAddress?.assumingMemoryBound(to: CChar.self), text.count, nil, 0) != 0
    }

    /// Array convenience for ``matches(_:)-(UnsafeRawBufferPointer)``.
    public func matches(_ text: [UInt8]) -> Bool {
        text.withUnsafeBytes { matches($0) }
    }

    /// Matches the whole of `text`, filling `offsets` with start/end pairs for group 0 and every
    /// capturing group (`-1` for a group that did not take part). Returns false when there is no match.
    public func match(_ text: [UInt8], offsets: inout [Int32]) -> Bool {
        let n = 2 * (groupCount + 1)
        if offsets.count != n { offsets = [Int32](repeating: -1, count: n) }
        return text.withUnsafeBytes { raw in
            offsets.withUnsafeMutableBufferPointer { o in
                cre2_full_match(re, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, o.baseAddress, Int32(n)) != 0
            }
        }
    }

    /// The index of the capturing group called `name`, or nil.
    public func groupIndex(_ name: String) -> Int? {
        var n = name
        let i = n.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { cre2_group_index(re, $0.baseAddress, $0.count) }
        }
        return i >= 0 ? Int(i) : nil
    }
}

/// A regular expression that does not compile, with RE2's reason.
public struct RegexError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
