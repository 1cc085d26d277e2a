import OutpostModel
import Testing

@testable import Relabel

func L(_ pairs: [String: String]) -> Labels { Labels(pairs.map { ($0.key, $0.value) }) }

func relabel(_ input: [String: String], _ rules: [RelabelRule]) -> [String: String]? {
    guard let out = Relabeler.process(L(input), rules) else { return nil }
    return Dictionary(uniqueKeysWithValues: out.pairs.map { ($0.name, $0.value) })
}

@Suite struct ReplaceTests {
    @Test func defaultsCopyTheJoinedSourceValues() throws {
        let rule = try RelabelRule(sourceLabels: ["a", "b"], targetLabel: "c")
        #expect(relabel(["a": "x", "b": "y"], [rule]) == ["a": "x", "b": "y", "c": "x;y"])
    }

    @Test func missingSourceLabelsJoinAsEmpty() throws {
        let rule = try RelabelRule(sourceLabels: ["a", "missing", "b"], separator: "-", targetLabel: "c")
        #expect(relabel(["a": "x", "b": "y"], [rule])?["c"] == "x--y")
    }

    @Test func regexIsFullyAnchored() throws {
        let rule = try RelabelRule(sourceLabels: ["a"], regex: "foo", targetLabel: "hit", replacement: "yes")
        #expect(relabel(["a": "foo"], [rule])?["hit"] == "yes")
        #expect(relabel(["a": "foobar"], [rule])?["hit"] == nil)
        #expect(relabel(["a": "xfoo"], [rule])?["hit"] == nil)
    }

    @Test func unmatchedRegexLeavesLabelsAlone() throws {
        let rule = try RelabelRule(sourceLabels: ["a"], regex: "(b+)", targetLabel: "a", replacement: "changed")
        #expect(relabel(["a": "ccc"], [rule]) == ["a": "ccc"])
    }

    @Test func multiGroupReplacementAndBraces() throws {
        let rule = try RelabelRule(
            sourceLabels: ["__address__"], regex: "([^:]+):(\\d+)", targetLabel: "hostport",
            replacement: "${1}_$2")
        #expect(relabel(["__address__": "node1:9100"], [rule])?["hostport"] == "node1_9100")
    }

    @Test func namedGroupsAndGoExpandQuirks() throws {
        let named = try RelabelRule(
            sourceLabels: ["a"], regex: "(?P<host>[a-z]+)-(?P<num>\\d+)", targetLabel: "b", replacement: "$num.${host}")
        #expect(relabel(["a": "web-7"], [named])?["b"] == "7.web")
        // `$1x` names a group "1x" that does not exist: it expands to nothing (Go's rule).
        let quirk = try RelabelRule(sourceLabels: ["a"], regex: "(.*)", targetLabel: "b", replacement: "$1x")
        #expect(relabel(["a": "v"], [quirk])?["b"] == nil)
        let braced = try RelabelRule(sourceLabels: ["a"], regex: "(.*)", targetLabel: "b", replacement: "${1}x")
        #expect(relabel(["a": "v"], [braced])?["b"] == "vx")
        let dollars = try RelabelRule(sourceLabels: ["a"], regex: "(.*)", targetLabel: "b", replacement: "$$1 $ ${")
        #expect(relabel(["a": "v"], [dollars])?["b"] == "$1 $ ${")
        let outOfRange = try RelabelRule(sourceLabels: ["a"], regex: "(.*)", targetLabel: "b", replacement: "[$2]")
        #expect(relabel(["a": "v"], [outOfRange])?["b"] == "[]")
    }

    @Test func emptyResultDeletesTheTarget() throws {
        let rule = try RelabelRule(sourceLabels: ["gone"], targetLabel: "a")
        #expect(relabel(["a": "x"], [rule]) == [:])
    }

    @Test func templatedTargetLabelAndInvalidResultIsSkipped() throws {
        let rule = try RelabelRule(sourceLabels: ["k"], regex: "(.*)", targetLabel: "x_$1", replacement: "v")
        #expect(relabel(["k": "name"], [rule])?["x_name"] == "v")
        // A target label made invalid by the expansion: the rule does nothing.
        #expect(relabel(["k": "bad-name"], [rule]) == ["k": "bad-name"])
    }

    @Test func dotMatchesNewlines() throws {
        let rule = try RelabelRule(sourceLabels: ["a"], regex: "x.y", targetLabel: "m", replacement: "1")
        #expect(relabel(["a": "x\ny"], [rule])?["m"] == "1")
    }
}

@Suite struct KeepDropTests {
    @Test(arguments: [("node", true), ("nodes", false), ("", false)])
    func keep(value: String, kept: Bool) throws {
        let rule = try RelabelRule(action: .keep, sourceLabels: ["job"], regex: "node")
        #expect((relabel(value.isEmpty ? [:] : ["job": value], [rule]) != nil) == kept)
    }

    @Test(arguments: [("node", false), ("nodes", true)])
    func drop(value: String, kept: Bool) throws {
        let rule = try RelabelRule(action: .drop, sourceLabels: ["job"], regex: "node")
        #expect((relabel(["job": value], [rule]) != nil) == kept)
    }

    @Test func dropOnEmptyMatchesMissingLabels() throws {
        let rule = try RelabelRule(action: .drop, sourceLabels: ["missing"], regex: "")
        #expect(relabel(["a": "1"], [rule]) == nil)
    }

    @Test func keepEqualAndDropEqual() throws {
        let keep = try RelabelRule(action: .keepequal, sourceLabels: ["a"], targetLabel: "b")
        let drop = try RelabelRule(action: .dropequal, sourceLabels: ["a"], targetLabel: "b")
        #expect(relabel(["a": "1", "b": "1"], [keep]) != nil)
        #expect(relabel(["a": "1", "b": "2"], [keep]) == nil)
        #expect(relabel(["a": "1", "b": "1"], [drop]) == nil)
        #expect(relabel(["a": "1", "b": "2"], [drop]) != nil)
        // Both missing: empty equals empty.
        #expect(relabel(["c": "1"], [keep]) != nil)
    }
}

@Suite struct LabelActionsTests {
    @Test func labelmapCopiesMatchingNames() throws {
        let rule = try RelabelRule(
            action: .labelmap, regex: "__meta_kubernetes_pod_label_(.+)", replacement: "$1")
        let out = relabel(
            ["__meta_kubernetes_pod_label_app": "web", "__meta_kubernetes_pod_label_tier": "fe", "job": "j"], [rule])
        #expect(out?["app"] == "web")
        #expect(out?["tier"] == "fe")
        #expect(out?["__meta_kubernetes_pod_label_app"] == "web")
    }

    @Test func labeldropAndLabelkeep() throws {
        let drop = try RelabelRule(action: .labeldrop, regex: "tmp_.*")
        #expect(relabel(["tmp_a": "1", "tmp_b": "2", "keep": "3"], [drop]) == ["keep": "3"])
        let keep = try RelabelRule(action: .labelkeep, regex: "__name__|job")
        #expect(relabel(["__name__": "m", "job": "j", "x": "1"], [keep]) == ["__name__": "m", "job": "j"])
    }

    @Test func lowercaseAndUppercase() throws {
        let lower = try RelabelRule(action: .lowercase, sourceLabels: ["a", "b"], targetLabel: "l")
        let upper = try RelabelRule(action: .uppercase, sourceLabels: ["a"], targetLabel: "u")
        let out = relabel(["a": "MiXeD", "b": "Ÿes"], [lower, upper])
        #expect(out?["l"] == "mixed;ÿes")
        #expect(out?["u"] == "MIXED")
    }

    /// Expected values computed independently (Python's hashlib): md5, last 8 bytes big-endian, mod.
    @Test(arguments: [
        ("", UInt64(1), "0"), ("a", 10, "7"), ("10.0.0.1:9100", 3, "2"), ("pod-a;ns", 7, "4"), ("ä", 1000, "381"),
    ])
    func hashmodMatchesPrometheus(value: String, modulus: UInt64, expected: String) throws {
        let rule = try RelabelRule(action: .hashmod, sourceLabels: ["v"], modulus: modulus, targetLabel: "shard")
        #expect(relabel(value.isEmpty ? [:] : ["v": value], [rule])?["shard"] == expected)
    }

    @Test func hashmodJoinsSourcesWithTheSeparator() throws {
        let rule = try RelabelRule(action: .hashmod, sourceLabels: ["job", "addr"], modulus: 128, targetLabel: "s")
        #expect(relabel(["job": "node", "addr": "10.0.0.1:9100"], [rule])?["s"] == "16")
    }

    @Test func md5KnownVectors() {
        func hex(_ b: [UInt8]) -> String { b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
        #expect(hex(MD5.digest([])) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(hex(MD5.digest(Array("The quick brown fox jumps over the lazy dog".utf8))) == "9e107d9d372bb6826bd81d3542a419d6")
        #expect(MD5.digest([UInt8](repeating: 97, count: 1000)).count == 16)
    }
}

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
