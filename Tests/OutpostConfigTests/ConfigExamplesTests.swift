import Foundation
import OutpostConfig
import Testing

/// Every file under config-examples/ loads. Files they name under /etc/outpost/ are stood in for
/// by empty files in a temporary directory (the loader checks TLS files are readable).
@Suite struct ConfigExamplesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config-examples").path

    static func examples() -> [String] {
        let all = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        return all.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    static func load(_ name: String) throws -> OutpostConfiguration {
        let dir = NSTemporaryDirectory() + "outpost-examples-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var text = try String(contentsOfFile: root + "/" + name, encoding: .utf8)
        text = text.replacingOccurrences(of: "/etc/outpost/", with: dir + "/")
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) where word.hasPrefix(dir) {
            let path = String(word)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: path, contents: Data())
        }
        return try ConfigLoader.parse(yaml: text, file: dir + "/" + name)
    }

    @Test func thereAreExamplesForEveryBackend() {
        let names = Self.examples()
        for backend in ["observatorium", "thanos-receive", "mimir", "amazon-managed-prometheus", "victoriametrics"] {
            #expect(names.contains("remote-write/\(backend).yaml"), "no example for \(backend)")
        }
    }

    @Test(arguments: examples())
    func loads(_ name: String) throws {
        let config = try Self.load(name)
        #expect(!config.remoteWrite.isEmpty || !config.scrapeConfigs.isEmpty)
    }

    @Test func backendExamplesSayWhatTheirBackendNeeds() throws {
        let rhobs = try Self.load("remote-write/observatorium.yaml").remoteWrite[0]
        #expect(rhobs.http.oauth2?.clientID == "outpost-data-plane")
        #expect(rhobs.url.contains("/api/metrics/v1/hypershift-platform/"))
        let thanos = try Self.load("remote-write/thanos-receive.yaml").remoteWrite[0]
        #expect(thanos.headers.contains { $0.0 == "THANOS-TENANT" })
        #expect(thanos.http.tls.certFile?.hasSuffix("tls.crt") == true)
        let mimir = try Self.load("remote-write/mimir.yaml").remoteWrite
        #expect(mimir[0].http.basicAuth?.username == "1234567")
        #expect(mimir[1].headers.contains { $0.0 == "X-Scope-OrgID" })
        let amp = try Self.load("remote-write/amazon-managed-prometheus.yaml").remoteWrite[0]
        #expect(amp.http.sigv4?.region == "us-east-1")
        let v2 = try Self.load("remote-write/prometheus-v2.yaml").remoteWrite[0]
        #expect(v2.protobufMessage == .v2 && v2.sendExemplars)
    }
}
