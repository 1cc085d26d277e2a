import OutpostModel

/// One relabel rule (`relabel_configs`, `metric_relabel_configs`, `write_relabel_configs` entry),
/// validated and compiled as Prometheus does it.
public struct RelabelRule: Sendable {
    public enum Action: String, Sendable, CaseIterable {
        case replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase
    }

    /// Prometheus' defaults for every field.
    public static let defaultSeparator = ";"
    public static let defaultRegex = "(.*)"
    public static let defaultReplacement = "$1"

    public let action: Action
    public let sourceLabels: [String]
    public let separator: String
    public let regex: RE2Regex
    public let modulus: UInt64
    public let targetLabel: String
    public let replacement: String

    let sourceBytes: [[UInt8]]
    let separatorBytes: [UInt8]
    let targetBytes: [UInt8]
    let targetTemplate: Template
    let replacementTemplate: Template
    let replacementBytes: [UInt8]

    /// Validates the combination of fields (Prometheus' `relabel.Config.Validate`) and compiles the
    /// regex; throws a message naming the field at fault.
    public init(
        action: Action = .replace, sourceLabels: [String] = [], separator: String = defaultSeparator,
        regex: String = defaultRegex, modulus: UInt64 = 0, targetLabel: String = "",
        replacement: String = defaultReplacement
    ) throws(RelabelConfigError) {
        for name in sourceLabels where !isLegacyLabelName(name) {
            throw RelabelConfigError(field: "source_labels", message: "\"\(name)\" is not a valid label name")
        }
        let compiled: RE2Regex
        do {
            compiled = try RE2Regex.anchored(regex)
        } catch {
            throw RelabelConfigError(field: "regex", message: "error parsing regexp: \(error.message)")
        }
        let needsTarget: Set<Action> = [.replace, .hashmod, .lowercase, .uppercase, .keepequal, .dropequal]
        if action == .hashmod && modulus == 0 {
            throw RelabelConfigError(field: "modulus", message: "relabel configuration for hashmod requires non-zero modulus")
        }
        if needsTarget.contains(action) && targetLabel.isEmpty {
            throw RelabelConfigError(
                field: "target_label", message: "relabel configuration for \(action.rawValue) action requires 'target_label' value")
        }
        let templated = targetLabel.contains("$")
        if action == .replace && !templated && !isLegacyLabelName(targetLabel) {
            throw RelabelConfigError(
                field: "target_label", message: "\"\(targetLabel)\" is invalid 'target_label' for \(action.rawValue) action")
        }
        if action == .replace && templated && !isRelabelTarget(targetLabel) {
            throw RelabelConfigError(
                field: "target_label", message: "\"\(targetLabel)\" is invalid 'target_label' for \(action.rawValue) action")
        }
        let plainTarget: Set<Action> = [.lowercase, .uppercase, .keepequal, .dropequal, .hashmod]
        if plainTarget.contains(action) && !isLegacyLabelName(targetLabel) {
            throw RelabelConfigError(
                field: "target_label", message: "\"\(targetLabel)\" is invalid 'target_label' for \(action.rawValue) action")
        }
        if [.lowercase, .uppercase, .keepequal, .dropequal].contains(action) && replacement != Self.defaultReplacement {
            throw RelabelConfigError(field: "replacement", message: "'replacement' can not be set for \(action.rawValue) action")
        }
        if action == .labelmap && !isRelabelTarget(replacement) {
            throw RelabelConfigError(
                field: "replacement", message: "\"\(replacement)\" is invalid 'replacement' for \(action.rawValue) action")
        }
        if action == .keepequal || action == .dropequal {
            if regex != Self.defaultRegex || modulus != 0 || separator != Self.defaultSeparator {
                throw RelabelConfigError(
                    field: "action",
                    message: "\(action.rawValue) action requires only 'source_labels' and `target_label`, and no other fields")
            }
        }
        if action == .labeldrop || action == .labelkeep {
            if !sourceLabels.isEmpty || !targetLabel.isEmpty || modulus != 0 || separator != Self.defaultSeparator
                || replacement != Self.defaultReplacement
            {
                throw RelabelConfigError(
                    field: "action", message: "\(action.rawValue) action requires only 'regex', and no other fields")
            }
        }
        self.action = action
        self.sourceLabels = sourceLabels
        self.separator = separator
        self.regex = compiled
        self.modulus = modulus
        self.targetLabel = targetLabel
        self.replacement = replacement
        sourceBytes = sourceLabels.map { Array($0.utf8) }
        separatorBytes = Array(separator.utf8)
        targetBytes = Array(targetLabel.utf8)
        targetTemplate = Template(targetLabel, regex: compiled)
        replacementTemplate = Template(replacement, regex: compiled)
        replacementBytes = Array(replacement.utf8)
    }

    /// Parses an action name, case-insensitively as Prometheus does.
    public static func parseAction(_ text: String) -> Action? {
        Action(rawValue: text.lowercased())
    }
}

/// A relabel rule that Prometheus would reject, with the YAML field to point at.
public struct RelabelConfigError: Error, Sendable, CustomStringConvertible {
    public var field: String
    public var message: String
    public var description: String { message }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, the label names Prometheus 2 and every remote-write backend accept.
public func isLegacyLabelName(_ name: String) -> Bool {
    isLegacyLabelName(Array(name.utf8))
}

/// Byte form of ``isLegacyLabelName(_:)-(String)``.
public func isLegacyLabelName(_ name: [UInt8]) -> Bool {
    guard let first = name.first else { return false }
    func letter(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || b == 95 }
    guard letter(first) else { return false }
    return name.allSatisfy { letter($0) || ($0 >= 48 && $0 <= 57) }
}

/// Prometheus' `relabelTarget`: label-name characters and `$name`/`${name}` references.
func isRelabelTarget(_ s: String) -> Bool {
    let bytes = Array(s.utf8)
    guard !bytes.isEmpty else { return false }
    func word(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || (b >= 48 && b <= 57) || b == 95 }
    var i = 0
    // The first token must be a letter, underscore or reference.
    var first = true
    while i < bytes.count {
        let b = bytes[i]
        if b == UInt8(ascii: "$") {
            i += 1
            if i < bytes.count && bytes[i] == UInt8(ascii: "{") {
                let start = i + 1
                var j = start
                while j < bytes.count && word(bytes[j]) { j += 1 }
                guard j > start, j < bytes.count, bytes[j] == UInt8(ascii: "}") else { return false }
                i = j + 1
            } else {
                let start = i
                while i < bytes.count && word(bytes[i]) { i += 1 }
                guard i > start else { return false }
            }
        } else if word(b) {
            if first && b >= 48 && b <= 57 { return false }
            i += 1
        } else {
            return false
        }
        first = false
    }
    return true
}
