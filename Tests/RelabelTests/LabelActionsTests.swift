import OutpostModel
import Testing

@testable import Relabel

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

