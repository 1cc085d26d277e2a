import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Remote-write against a receiver that misbehaves the ways real ones do: a fault-injecting proxy
/// in front of a real Prometheus answers 500, 429 (with and without `Retry-After`), 409, 400 and
/// 413, resets connections, or never answers; the books it keeps are compared with Outpost's
/// counters and with what the real receiver stored.
@Suite(.serialized, .tags(.endToEnd)) struct RemoteWriteFaultTests {
    static let series = 30

    static func targetBody() -> String {
        var text = "# TYPE fault_gauge gauge\n"
        for i in 0..<series { text += "fault_gauge{i=\"\(i)\"} \(i)\n" }
        return text
    }

    @Test func retriesDropsAndSplitsAreExactAndNoSeriesGoesBackInTime() async throws {
        let dir = Harness.tempDir("faults")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let receiverPort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let receiver = try PrometheusReceiver(port: receiverPort, dir: dir + "/receiver")
        let receiverProcess = try receiver.start(logDir: dir)
        let target = try TestTarget(text: Self.targetBody(), headers: ["Content-Type: text/plain; version=0.0.4"])
        defer { target.stop() }
        // The script, by request number: two 500s, a 429 asking for a second, a bare 429, a reset,
        // a 409 and a 400 (both dropped for good), a 413 (split), then everything forwarded.
        let proxy = try FaultProxy(upstreamPort: receiverPort) { n, samples, _ in
            switch n {
            case 2, 3: return .status(500, headers: [])
            case 4: return .status(429, headers: ["Retry-After: 1"])
            case 5: return .status(429, headers: [])
            case 6: return .reset
            case 7: return .status(409, headers: [])
            case 8: return .status(400, headers: [])
            case 9: return samples > 1 ? .status(413, headers: []) : .forward
            default: return .forward
            }
        }
        defer { proxy.stop() }
        let scrape = """
            global: {scrape_interval: 300ms}
            scrape_configs:
              - job_name: faults
                static_configs: [{targets: ["127.0.0.1:\(target.port)"]}]
            """
        let remote = """
            remote_write:
              - name: flaky
                url: http://127.0.0.1:\(proxy.port)/api/v1/write
                queue_config:
                  max_samples_per_send: 25
                  batch_send_deadline: 100ms
                  min_backoff: 50ms
                  max_backoff: 400ms
                  min_shards: 3
                  max_shards: 3
            """
        let (outpost, configPath) = try Harness.startOutpost(dir: dir, port: outpostPort, config: scrape + "\n" + remote)
        defer { for p in [outpost, receiverProcess] where p.isRunning { kill(p.pid, SIGKILL) } }
        try await outpost.showingLogOnFailure {
            _ = try await Harness.eventually("forty requests through the proxy", timeout: .seconds(60)) {
                proxy.snapshot.requests >= 40 ? true : nil
            }
            // Stop scraping, then wait until everything read is acknowledged.
            try await DurabilityTests.stopScraping(outpost, port: outpostPort, configPath: configPath, remoteOnly: remote)
            let books = try await Harness.eventually("everything sent or refused", timeout: .seconds(60)) {
                () -> FaultProxy.Books? in
                let b = proxy.snapshot
                let pending = DurabilityTests.metric(outpostPort, "prometheus_remote_storage_samples_pending{remote_name=\"flaky\"")
                guard pending == 0, b.seen.count == b.delivered.count + b.refused.count else { return nil }
                return b
            }
            print(
                "faults: \(books.requests) requests, \(books.seen.count) samples seen, \(books.delivered.count) delivered, "
                    + "\(books.refused.count) refused, \(books.retriedSamples) retried, \(books.tooLargeSamples) in a 413")
            let faults = books.log.prefix(9).map(\.fault)
            #expect(
                faults == [
                    .forward, .status(500, headers: []), .status(500, headers: []),
                    .status(429, headers: ["Retry-After: 1"]), .status(429, headers: []), .reset,
                    .status(409, headers: []), .status(400, headers: []), .status(413, headers: []),
                ])
            #expect(books.outOfOrder == 0, "samples delivered out of order")
            #expect(books.delivered.isDisjoint(with: books.refused))
            #expect(books.refused.count > 0)
            // Outpost's counters say exactly what the receiver saw.
            let failed = DurabilityTests.metric(outpostPort, "prometheus_remote_storage_samples_failed_total{remote_name=\"flaky\"")
            #expect(failed == Double(books.refused.count))
            let retried = DurabilityTests.metric(outpostPort, "prometheus_remote_storage_samples_retried_total{remote_name=\"flaky\"")
            #expect(retried == Double(books.retriedSamples))
            // The real receiver stored exactly what the proxy saw it accept.
            let stored = try await Harness.eventually("receiver stored the delivered samples") { () -> Double? in
                guard let v = Harness.headSamplesAppended(port: receiverPort), v >= Double(books.delivered.count) else { return nil }
                return v
            }
            #expect(stored == Double(books.delivered.count))
            // A 413 was answered by sending the same samples in smaller requests.
            #expect(outpost.log().contains("sending it in halves"))
            let shards = DurabilityTests.metric(outpostPort, "prometheus_remote_storage_shards{remote_name=\"flaky\"")
            #expect(shards == 3)
        }
    }

    @Test func aBlackholedEndpointNeverDelaysAHealthyOne() async throws {
        let dir = Harness.tempDir("blackhole")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let livePort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let live = try PrometheusReceiver(port: livePort, dir: dir + "/live")
        let liveProcess = try live.start(logDir: dir)
        let target = try TestTarget(text: Self.targetBody(), headers: ["Content-Type: text/plain; version=0.0.4"])
        defer { target.stop() }
        let hole = try FaultProxy(upstreamPort: livePort) { _, _, _ in .blackhole }
        defer { hole.stop() }
        let config = """
            global: {scrape_interval: 200ms}
            scrape_configs:
              - job_name: faults
                static_configs: [{targets: ["127.0.0.1:\(target.port)"]}]
            remote_write:
              - name: live
                url: http://127.0.0.1:\(livePort)/api/v1/write
                queue_config: {batch_send_deadline: 200ms}
              - name: hole
                url: http://127.0.0.1:\(hole.port)/api/v1/write
                queue_config: {batch_send_deadline: 200ms}
            """
        let outpost = try Harness.startOutpost(dir: dir, port: outpostPort, config: config).process
        defer { for p in [outpost, liveProcess] where p.isRunning { kill(p.pid, SIGKILL) } }
        try await outpost.showingLogOnFailure {
            _ = try await Harness.eventually("the blackhole holds a request") { hole.snapshot.requests >= 1 ? true : nil }
            // For the next 8 s (well past several batch deadlines) the live endpoint stays current
            // while the other one waits on a request that never completes.
            let clock = ContinuousClock()
            let until = clock.now + .seconds(8)
            var worst = 0.0
            while clock.now < until {
                if let sent = DurabilityTests.metric(
                    outpostPort, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds{remote_name=\"live\"")
                {
                    worst = max(worst, Double(DurabilityTests.now()) / 1000 - sent)
                }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(worst > 0 && worst < 2, "live endpoint lagged \(worst) s")
            let pending = try #require(
                DurabilityTests.metric(outpostPort, "prometheus_remote_storage_samples_pending{remote_name=\"hole\""))
            #expect(pending > 0)
            #expect(
                DurabilityTests.metric(outpostPort, "prometheus_remote_storage_samples_total{remote_name=\"hole\"") ?? 0 > 0)
            let stored = live.query("count_over_time(fault_gauge{i=\"7\"}[1h])")?.first?.value ?? 0
            #expect(stored >= 30, "live receiver has \(stored) samples of one series")
            // Shutdown is not held up by the request that never returns (5 s grace).
            let started = clock.now
            let code = await outpost.stop(timeout: .seconds(20))
            #expect(code == 0)
            #expect(clock.now - started < .seconds(15))
        }
    }
}
