import OutpostModel

/// Applies relabel rules to a label set, exactly as Prometheus' `relabel.ProcessBuilder`.
///
/// Costs one regex match per rule (plus one per label for the label* actions); callers run it
/// once per target or once per new series (the scrape and remote-write caches keep the result),
/// never per sample.
public enum Relabeler {
    /// Runs `rules` in order on `labels`; returns false when a rule dropped the set.
    public static func process(_ labels: inout LabelsBuilder, _ rules: [RelabelRule]) -> Bool {
        var offsets: [Int32] = []
        for rule in rules where !apply(rule, &labels, &offsets) { return false }
        return true
    }

    /// Convenience: relabels a finished label set; nil when dropped.
    public static func process(_ labels: Labels, _ rules: [RelabelRule]) -> Labels? {
        if rules.isEmpty { return labels }
        var b = LabelsBuilder(labels)
        return process(&b, rules) ? b.labels() : nil
    }

    static func apply(_ rule: RelabelRule, _ b: inout LabelsBuilder, _ offsets: inout [Int32]) -> Bool {
        var value: [UInt8] = []
        for (i, name) in rule.sourceBytes.enumerated() {
            if i > 0 { value += rule.separatorBytes }
            if let v = b.get(name) { value += v }
        }
        switch rule.action {
        case .drop:
            if rule.regex.matches(value) { return false }
        case .keep:
            if !rule.regex.matches(value) { return false }
        case .dropequal:
            if (b.get(rule.targetBytes) ?? []) == value { return false }
        case .keepequal:
            if (b.get(rule.targetBytes) ?? []) != value { return false }
        case .replace:
            guard rule.regex.match(value, offsets: &offsets) else { break }
            let target = rule.targetTemplate.expand(source: value, offsets: offsets)
            guard isLegacyLabelName(target) else { break }
            let result = rule.replacementTemplate.expand(source: value, offsets: offsets)
            b.set(target, result)  // an empty result removes the label
        case .lowercase:
            b.set(rule.targetBytes, Array(String(decoding: value, as: UTF8.self).lowercased().utf8))
        case .uppercase:
            b.set(rule.targetBytes, Array(String(decoding: value, as: UTF8.self).uppercased().utf8))
        case .hashmod:
            let digest = MD5.digest(value)
            var h: UInt64 = 0
            for byte in digest[8..<16] { h = h << 8 | UInt64(byte) }
            b.set(rule.targetBytes, Array(String(h % rule.modulus).utf8))
        case .labelmap:
            for (name, labelValue) in b.bytePairs where rule.regex.match(name, offsets: &offsets) {
                b.set(rule.replacementTemplate.expand(source: name, offsets: offsets), labelValue)
            }
        case .labeldrop:
            for (name, _) in b.bytePairs where rule.regex.matches(name) { b.set(name, []) }
        case .labelkeep:
            for (name, _) in b.bytePairs where !rule.regex.matches(name) { b.set(name, []) }
        }
        return true
    }
}
