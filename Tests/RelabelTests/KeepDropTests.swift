import OutpostModel
import Testing

@testable import Relabel

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

