import OutpostModel
import Testing

@testable import Relabel

struct BadRule: Sendable, CustomTestStringConvertible {
    var name: String
    var action: RelabelRule.Action = .replace
    var source: [String] = []
    var regex = RelabelRule.defaultRegex
    var modulus: UInt64 = 0
    var target = ""
    var replacement = RelabelRule.defaultReplacement
    var field: String
    var message: String
    var testDescription: String { name }
}

@Suite struct RuleValidationTests {
    @Test(arguments: [
        BadRule(name: "hashmod without modulus", action: .hashmod, target: "x", field: "modulus", message: "requires non-zero modulus"),
        BadRule(name: "replace without target", field: "target_label", message: "requires 'target_label'"),
        BadRule(name: "invalid target", target: "bad-name", field: "target_label", message: "invalid 'target_label'"),
        BadRule(name: "bad regex", regex: "(", target: "x", field: "regex", message: "error parsing regexp"),
        BadRule(name: "lowercase with replacement", action: .lowercase, target: "x", replacement: "y", field: "replacement",
                message: "can not be set"),
        BadRule(name: "labeldrop with source", action: .labeldrop, source: ["a"], field: "action", message: "requires only 'regex'"),
        BadRule(name: "keepequal with regex", action: .keepequal, regex: "a", target: "x", field: "action",
                message: "requires only 'source_labels'"),
        BadRule(name: "labelmap bad replacement", action: .labelmap, replacement: "a-b", field: "replacement",
                message: "invalid 'replacement'"),
        BadRule(name: "bad source label", source: ["a-b"], target: "x", field: "source_labels", message: "not a valid label name"),
    ])
    func rejects(_ bad: BadRule) {
        do {
            _ = try RelabelRule(
                action: bad.action, sourceLabels: bad.source, regex: bad.regex, modulus: bad.modulus,
                targetLabel: bad.target, replacement: bad.replacement)
            Issue.record("expected an error")
        } catch {
            #expect(error.field == bad.field)
            #expect(error.message.contains(bad.message), "\(error.message)")
        }
    }

    @Test func actionNamesAreCaseInsensitive() {
        #expect(RelabelRule.parseAction("LabelMap") == .labelmap)
        #expect(RelabelRule.parseAction("KeepEqual") == .keepequal)
        #expect(RelabelRule.parseAction("nope") == nil)
    }
}
