/// A label set: name/value pairs sorted by name, held in one contiguous byte buffer.
///
/// The buffer is a run of `uvarint(len(name)) name uvarint(len(value)) value` entries, sorted by name
/// with no empty values and no duplicate names. The same bytes are the WAL's series encoding, so a
/// label set moves from the scrape cache to disk and into remote-write without being rebuilt.
/// Equality and hashing are byte-wise, which is label-set equality because the form is canonical.
public struct Labels: Hashable, Sendable, CustomStringConvertible {
    /// The canonical encoding described above.
    public let bytes: [UInt8]

    /// Wraps bytes that are already canonical (read back from the WAL, or built by ``LabelsBuilder``).
    public init(canonicalBytes: [UInt8]) {
        self.bytes = canonicalBytes
    }

    /// Builds a label set from pairs in any order; empty values are dropped, and a later duplicate
    /// name replaces an earlier one.
    public init(_ pairs: [(String, String)]) {
        var builder = LabelsBuilder()
        for (name, value) in pairs { builder.set(name, value) }
        self = builder.labels()
    }

    /// The empty label set.
    public static let empty = Labels(canonicalBytes: [])

    /// Calls `body` with the name and value bytes of each label, in name order.
    @inlinable
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { raw in try Self.forEach(canonical: raw, body) }
    }

    /// ``forEach(_:)`` over canonical label bytes held elsewhere (the WAL's series table). Names
    /// and values under 128 bytes (one-byte lengths) take a short path without the varint reader.
    @inlinable
    public static func forEach(
        canonical raw: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void
    ) rethrows {
        guard let base = raw.baseAddress else { return }
        let n = raw.count
        var i = 0
        while i < n {
            let nameLength = Int(base.load(fromByteOffset: i, as: UInt8.self))
            guard nameLength < 128, i + 1 + nameLength < n else { break }
            let valueLength = Int(base.load(fromByteOffset: i + 1 + nameLength, as: UInt8.self))
            guard valueLength < 128, i + 2 + nameLength + valueLength <= n else { break }
            try body(
                UnsafeRawBufferPointer(start: base + i + 1, count: nameLength),
                UnsafeRawBufferPointer(start: base + i + 2 + nameLength, count: valueLength))
            i += 2 + nameLength + valueLength
        }
        guard i < n else { return }
        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: raw[i...]))
        while !reader.isAtEnd {
            guard let name = reader.lengthPrefixed(), let value = reader.lengthPrefixed() else { return }
            try body(name, value)
        }
    }

    /// The pairs as strings, for configuration, status pages and tests (allocates; not for hot paths).
    public var pairs: [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        forEach { name, value in
            out.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return out
    }

    /// The number of labels.
    public var count: Int {
        var n = 0
        forEach { _, _ in n += 1 }
        return n
    }

    /// The value of `name`, or nil when the set has no such label.
    public subscript(name: String) -> String? {
        for pair in pairs where pair.name == name { return pair.value }
        return nil
    }

    /// `{a="1", b="2"}` in Prometheus' notation, with the metric name in front when present.
    public var description: String {
        var name = ""
        var rest: [String] = []
        for (n, v) in pairs {
            if n == "__name__" { name = v } else { rest.append("\(n)=\"\(escapeLabelValue(v))\"") }
        }
        return name + "{" + rest.joined(separator: ", ") + "}"
    }
}

/// Escapes a label value the way the text exposition format writes it.
public func escapeLabelValue(_ value: String) -> String {
    var out = ""
    for ch in value {
        switch ch {
        case "\\": out += "\\\\"
        case "\"": out += "\\\""
        case "\n": out += "\\n"
        default: out.append(ch)
        }
    }
    return out
}

/// Collects labels in any order and produces a canonical ``Labels``. Used on scrape-cache misses and
/// when building target labels, never per sample.
public struct LabelsBuilder: Sendable {
    private var names: [[UInt8]] = []
    private var values: [[UInt8]] = []

    public init() {}

    /// Starts from an existing set.
    public init(_ labels: Labels) {
        labels.forEach { name, value in
            names.append(Array(name))
            values.append(Array(value))
        }
    }

    /// Sets `name` to `value`, replacing an earlier value. An empty value removes the label.
    public mutating func set(_ name: String, _ value: String) {
        set(Array(name.utf8), Array(value.utf8))
    }

    /// Byte form of ``set(_:_:)-(String,String)``.
    public mutating func set(_ name: [UInt8], _ value: [UInt8]) {
        if let i = names.firstIndex(of: name) {
            if value.isEmpty {
                names.remove(at: i)
                values.remove(at: i)
            } else {
                values[i] = value
            }
        } else if !value.isEmpty {
            names.append(name)
            values.append(value)
        }
    }

    /// Removes `name` if present.
    public mutating func remove(_ name: String) {
        set(Array(name.utf8), [])
    }

    /// The value of `name`, if set.
    public func get(_ name: String) -> String? {
        let key = Array(name.utf8)
        guard let i = names.firstIndex(of: key) else { return nil }
        return String(decoding: values[i], as: UTF8.self)
    }

    /// Whether `name` is set.
    public func has(_ name: [UInt8]) -> Bool { names.contains(name) }

    /// The value of `name` as bytes, if set.
    public func get(_ name: [UInt8]) -> [UInt8]? {
        guard let i = names.firstIndex(of: name) else { return nil }
        return values[i]
    }

    /// A copy of the current pairs, in insertion order (for rules that change the set while walking it).
    public var bytePairs: [(name: [UInt8], value: [UInt8])] {
        Array(zip(names, values).map { (name: $0.0, value: $0.1) })
    }

    /// The number of labels set.
    public var count: Int { names.count }

    /// All names currently set.
    public var allNames: [String] { names.map { String(decoding: $0, as: UTF8.self) } }

    /// The canonical label set.
    public func labels() -> Labels {
        let order = names.indices.sorted { names[$0].lexicographicallyPrecedes(names[$1]) }
        var out: [UInt8] = []
        out.reserveCapacity(names.reduce(0) { $0 + $1.count + 2 } + values.reduce(0) { $0 + $1.count + 2 })
        for i in order {
            appendUVarint(&out, UInt64(names[i].count))
            out.append(contentsOf: names[i])
            appendUVarint(&out, UInt64(values[i].count))
            out.append(contentsOf: values[i])
        }
        return Labels(canonicalBytes: out)
    }
}

/// `name` as a label name: every character outside `[a-zA-Z0-9_]` (one per Unicode scalar)
/// becomes `_`, as Prometheus' discovery and prometheus-operator derive label names from
/// Kubernetes label and annotation keys.
public func sanitizeLabelName(_ name: String) -> String {
    var out = String.UnicodeScalarView()
    for u in name.unicodeScalars {
        let ok = (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || (u >= "0" && u <= "9") || u == "_"
        out.append(ok ? u : "_")
    }
    return String(out)
}
