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

