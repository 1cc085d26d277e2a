import Foundation
import RemoteWriteProto
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Remote-write 2.0 and 1.0 metadata, read back with swift-protobuf's generated types (the
/// packaged Prometheus predates the 2.0 receiver).
@Suite(.serialized, .tags(.endToEnd)) struct RemoteWriteV2Tests {
    static let exposition = """
        # TYPE job_duration_seconds histogram
        # UNIT job_duration_seconds seconds
        # HELP job_duration_seconds How long jobs took.
        job_duration_seconds_bucket{le="1.0"} 3
        job_duration_seconds_bucket{le="+Inf"} 5
        job_duration_seconds_count 5
        job_duration_seconds_sum 7.5
        job_duration_seconds_created 1789999000.25
        # TYPE jobs counter
        # HELP jobs Jobs run, "all" of them.
        jobs_total{queue="a"} 42 # {trace_id="t1"} 1.0 1790000000.5
        jobs_created{queue="a"} 1789999999
        # EOF

        """

    /// What a 2.0 receiver saw: series by their sorted labels, with metadata and sample count.
    struct Seen: Sendable {
        var requests = 0
        var headers: [String: String] = [:]
        var series: [String: (type: Io_Prometheus_Write_V2_Metadata.MetricType, help: String, unit: String, samples: Int)] = [:]
        var firstSymbolEmpty = true
        var metadata: [String: Prometheus_MetricMetadata] = [:]
        /// Start timestamps received, by series.
        var starts: [String: Set<Int64>] = [:]
        /// Exemplars received: series name, trace_id, timestamp.
        var exemplars: [(String, String, Int64)] = []
        var v1Requests = 0
    }

    final class Receiver: Sendable {
        let seen = Mutex(Seen())
        var snapshot: Seen { seen.withLock { $0 } }
    }

    @Test func version2CarriesSymbolsMetadataAndChecksWrittenCounts() async throws {
        let dir = Harness.tempDir("rw2")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outpostPort = Harness.freePort()
        let target = try TestTarget(
            text: Self.exposition, headers: [TestTarget.openMetricsHeader])
        defer { target.stop() }
        let receiver = Receiver()
        let v2 = try TestHTTPServer { request in
            guard let raw = unsnappy(request.body), let decoded = try? Io_Prometheus_Write_V2_Request(serializedBytes: raw)
            else { return .respond(status: 400, headers: [], body: Array("undecodable\n".utf8)) }
            var count = 0
            let n = receiver.seen.withLock { s -> Int in
                s.requests += 1
                s.headers = request.headers
                s.firstSymbolEmpty = s.firstSymbolEmpty && decoded.symbols.first == ""
                for ts in decoded.timeseries {
                    let pairs = stride(from: 0, to: ts.labelsRefs.count - 1, by: 2).map {
                        decoded.symbols[Int(ts.labelsRefs[$0])] + "=" + decoded.symbols[Int(ts.labelsRefs[$0 + 1])]
                    }
                    let key = pairs.sorted().joined(separator: ",")
                    let previous = s.series[key]?.samples ?? 0
                    s.series[key] = (
                        ts.metadata.type, decoded.symbols[Int(ts.metadata.helpRef)], decoded.symbols[Int(ts.metadata.unitRef)],
                        previous + ts.samples.count
                    )
                    count += ts.samples.count
                    s.starts[key, default: []].formUnion(ts.samples.map(\.startTimestamp))
                    for x in ts.exemplars {
                        let labels = stride(from: 0, to: x.labelsRefs.count - 1, by: 2).map {
                            (decoded.symbols[Int(x.labelsRefs[$0])], decoded.symbols[Int(x.labelsRefs[$0 + 1])])
                        }
                        let name = pairs.first { $0.hasPrefix("__name__=") }.map { String($0.dropFirst(9)) } ?? ""
                        s.exemplars.append((name, labels.first { $0.0 == "trace_id" }?.1 ?? "", x.timestamp))
                    }
                }
                return s.requests
            }
            // The third request is answered as if one sample had not been written.
            let written = n == 3 ? count - 1 : count
            // It never admits to writing exemplars: every one sent is counted as unconfirmed.
            return .respond(
                status: 204,
                headers: ["X-Prometheus-Remote-Write-Samples-Written: \(written)", "X-Prometheus-Remote-Write-Exemplars-Written: 0"],
                body: [])
        }
        defer { v2.stop() }
        let old = try TestHTTPServer { _ in .respond(status: 415, headers: [], body: Array("unsupported\n".utf8)) }
        defer { old.stop() }
        let v1 = try TestHTTPServer { request in
            if let raw = unsnappy(request.body), let decoded = try? Prometheus_WriteRequest(serializedBytes: raw) {
                receiver.seen.withLock { s in
                    s.v1Requests += 1
                    for m in decoded.metadata { s.metadata[m.metricFamilyName] = m }
                }
            }
            return .respond(status: 204, headers: [], body: [])
        }
        defer { v1.stop() }
        let config = """
            global: {scrape_interval: 300ms, external_labels: {cluster: c1}}
            scrape_configs:
              - job_name: jobs
                static_configs: [{targets: ["127.0.0.1:\(target.port)"]}]
            remote_write:
              - name: v2
                url: http://127.0.0.1:\(v2.port)/api/v1/write
                protobuf_message: io.prometheus.write.v2.Request
                send_exemplars: true
                queue_config: {batch_send_deadline: 100ms}
              - name: old
                url: http://127.0.0.1:\(old.port)/api/v1/write
                protobuf_message: io.prometheus.write.v2.Request
                queue_config: {batch_send_deadline: 100ms}
              - name: v1
                url: http://127.0.0.1:\(v1.port)/api/v1/write
                metadata_config: {send_interval: 1s}
                queue_config: {batch_send_deadline: 100ms}
            """
        let outpost = try Harness.startOutpost(dir: dir, port: outpostPort, config: config).process
        defer { if outpost.isRunning { kill(outpost.pid, SIGKILL) } }
        try await outpost.showingLogOnFailure {
            let seen = try await Harness.eventually("five 2.0 requests and 1.0 metadata") { () -> Seen? in
                let s = receiver.snapshot
                return s.requests >= 5 && s.metadata.count >= 2 ? s : nil
            }
            #expect(seen.headers["content-type"] == "application/x-protobuf;proto=io.prometheus.write.v2.Request")
            #expect(seen.headers["x-prometheus-remote-write-version"] == "2.0.0")
            #expect(seen.headers["content-encoding"] == "snappy")
            #expect(seen.firstSymbolEmpty)
            let base = "cluster=c1,instance=127.0.0.1:\(target.port),job=jobs"
            let bucket = try #require(seen.series["__name__=job_duration_seconds_bucket,\(base),le=+Inf"])
            #expect(bucket.type == .histogram)
            #expect(bucket.help == "How long jobs took.")
            #expect(bucket.unit == "seconds")
            let counter = try #require(seen.series["__name__=jobs_total,\(base),queue=a"])
            #expect(counter.type == .counter)
            #expect(counter.help == "Jobs run, \"all\" of them.")
            // `_created` lines give their points start timestamps (and stay series themselves).
            #expect(seen.starts["__name__=jobs_total,\(base),queue=a"] == [1_789_999_999_000])
            #expect(seen.starts["__name__=job_duration_seconds_bucket,\(base),le=+Inf"] == [1_789_999_000_250])
            #expect(seen.starts["__name__=job_duration_seconds_sum,\(base)"] == [1_789_999_000_250])
            #expect(seen.starts["__name__=jobs_created,\(base),queue=a"] == [0])
            #expect(seen.starts["__name__=up,\(base)"] == [0])
            let up = try #require(seen.series["__name__=up,\(base)"])
            #expect(up.type == .unspecified && up.help == "")
            // The receiver's written count fell one short once: counted.
            let unconfirmed = DurabilityTests.metric(
                outpostPort, "outpost_remote_storage_samples_unconfirmed_total{remote_name=\"v2\"")
            #expect(unconfirmed == 1)
            // A 1.0-only receiver's 415 is explained, and the samples counted as failed.
            let failed = try await Harness.positiveMetric(outpostPort, "prometheus_remote_storage_samples_failed_total{remote_name=\"old\"", "415 counted")
            #expect(failed > 0)
            #expect(outpost.log().contains("does not accept io.prometheus.write.v2.Request"))
            // 1.0 metadata requests carry each family's type, help and unit.
            let histogram = try #require(seen.metadata["job_duration_seconds"])
            #expect(histogram.type == .histogram && histogram.unit == "seconds" && histogram.help == "How long jobs took.")
            #expect(seen.metadata["jobs"]?.type == .counter)
            #expect(DurabilityTests.metric(outpostPort, "prometheus_remote_storage_metadata_total{remote_name=\"v1\"") ?? 0 >= 2)
            // The exemplar went once (it repeats unchanged in every scrape), with its series, and
            // the receiver's "0 written" is counted.
            let final = receiver.snapshot
            #expect(final.exemplars.count == 1)
            #expect(final.exemplars.first?.0 == "jobs_total" && final.exemplars.first?.1 == "t1")
            #expect(final.exemplars.first?.2 == 1_790_000_000_500)
            #expect(DurabilityTests.metric(outpostPort, "outpost_remote_storage_exemplars_unconfirmed_total{remote_name=\"v2\"") == 1)
        }
    }

    /// A counter restarts (new `_created`, value back to 0) in the middle of a round of many
    /// scrapes: every sample still arrives with the start time of the body it was scraped from.
    @Test func aRestartedCounterKeepsEachSampleWithItsOwnStart() async throws {
        let dir = Harness.tempDir("rw2-start")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outpostPort = Harness.freePort()
        func body(_ value: Int, created: String) -> [UInt8] {
            Array("# TYPE jobs counter\njobs_total \(value)\njobs_created \(created)\n# EOF\n".utf8)
        }
        let target = try TestTarget(
            text: String(decoding: body(42, created: "1789999999"), as: UTF8.self),
            headers: [TestTarget.openMetricsHeader])
        defer { target.stop() }
        let samples = Mutex<[(value: Double, start: Int64)]>([])
        let v2 = try TestHTTPServer { request in
            guard let raw = unsnappy(request.body), let decoded = try? Io_Prometheus_Write_V2_Request(serializedBytes: raw)
            else { return .respond(status: 400, headers: [], body: []) }
            samples.withLock { all in
                for ts in decoded.timeseries
                where ts.labelsRefs.contains(where: { decoded.symbols[Int($0)] == "jobs_total" }) {
                    all += ts.samples.map { ($0.value, $0.startTimestamp) }
                }
            }
            return .respond(status: 204, headers: [], body: [])
        }
        defer { v2.stop() }
        // Rounds of about twenty scrapes: the restart lands inside one.
        let config = """
            global: {scrape_interval: 100ms}
            scrape_configs:
              - job_name: jobs
                static_configs: [{targets: ["127.0.0.1:\(target.port)"]}]
            remote_write:
              - url: http://127.0.0.1:\(v2.port)/api/v1/write
                protobuf_message: io.prometheus.write.v2.Request
                queue_config: {batch_send_deadline: 2s}
            """
        let outpost = try Harness.startOutpost(dir: dir, port: outpostPort, config: config).process
        defer { if outpost.isRunning { kill(outpost.pid, SIGKILL) } }
        try await outpost.showingLogOnFailure {
            _ = try await Harness.eventually("first samples") { samples.withLock { $0.isEmpty ? nil : true } }
            // About half a round (ten scrapes of seven samples) later, the counter restarts.
            let appended = "outpost_wal_samples_appended_total"
            let first = DurabilityTests.metric(outpostPort, appended) ?? 0
            _ = try await Harness.eventually("ten more scrapes", timeout: .seconds(10), every: .milliseconds(50)) {
                (DurabilityTests.metric(outpostPort, appended) ?? 0) >= first + 70 ? true : nil
            }
            target.set(body: body(0, created: "1790000100.5"))
            let all = try await Harness.eventually("samples of the restarted counter") { () -> [(value: Double, start: Int64)]? in
                let all = samples.withLock { $0 }
                return all.filter { $0.value == 0 }.count >= 3 ? all : nil
            }
            let before = all.filter { $0.value == 42 }
            let after = all.filter { $0.value == 0 }
            #expect(before.count >= 5)
            #expect(Set(before.map(\.start)) == [1_789_999_999_000])
            #expect(Set(after.map(\.start)) == [1_790_000_100_500])
        }
    }

    @Test func exemplarsReachPrometheusOnceEach() async throws {
        let dir = Harness.tempDir("exemplars")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let receiverPort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let receiver = try PrometheusReceiver(port: receiverPort, dir: dir + "/receiver")
        let receiverProcess = try receiver.start(logDir: dir, extra: ["--enable-feature=exemplar-storage"])
        let stamp = Double(Int(Date().timeIntervalSince1970) - 30)
        func body(_ trace: String, at t: Double) -> String {
            "# TYPE requests counter\nrequests_total 5 # {trace_id=\"\(trace)\"} 1.5 \(t)\n# EOF\n"
        }
        let target = try TestTarget(
            text: body("abc123", at: stamp), headers: [TestTarget.openMetricsHeader])
        defer { target.stop() }
        let config = """
            global: {scrape_interval: 200ms}
            scrape_configs:
              - job_name: traced
                static_configs: [{targets: ["127.0.0.1:\(target.port)"]}]
            remote_write:
              - name: prom
                url: http://127.0.0.1:\(receiverPort)/api/v1/write
                send_exemplars: true
                queue_config: {batch_send_deadline: 100ms}
            """
        let outpost = try Harness.startOutpost(dir: dir, port: outpostPort, config: config).process
        defer { for p in [outpost, receiverProcess] where p.isRunning { kill(p.pid, SIGKILL) } }
        func traces() -> [String]? {
            let now = Int(Date().timeIntervalSince1970)
            let path = "/api/v1/query_exemplars?query=requests_total&start=\(now - 600)&end=\(now + 60)"
            guard let (status, text) = Harness.get(port: receiverPort, path: path), status == 200,
                let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                let data = json["data"] as? [[String: Any]]
            else { return nil }
            return data.flatMap { ($0["exemplars"] as? [[String: Any]]) ?? [] }
                .compactMap { ($0["labels"] as? [String: String])?["trace_id"] }.sorted()
        }
        try await outpost.showingLogOnFailure {
            _ = try await Harness.eventually("the exemplar stored") { traces() == ["abc123"] ? true : nil }
            // Ten more scrapes of the same exemplar send nothing new.
            _ = try await Harness.eventually("more scrapes") { () -> Bool? in
                (receiver.query("count_over_time(requests_total[1m])")?.first?.value ?? 0) >= 10 ? true : nil
            }
            #expect(DurabilityTests.metric(outpostPort, "prometheus_remote_storage_exemplars_total{remote_name=\"prom\"") == 1)
            // A later exemplar (Prometheus refuses one not newer than the series' last).
            target.set(body: Array(body("def456", at: stamp + 5).utf8))
            let both = try await Harness.eventually("the second exemplar stored") { () -> [String]? in
                let t = traces() ?? []
                return t.count == 2 ? t : nil
            }
            #expect(both == ["abc123", "def456"])
            #expect(DurabilityTests.metric(outpostPort, "prometheus_remote_storage_exemplars_total{remote_name=\"prom\"") == 2)
        }
    }
}
