import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Outpost's main promise, end to end: what it scraped reaches the receiver through receiver
/// outages, `kill -9`, restarts and a corrupted data directory; and what a disk budget drops is
/// exactly what the counter says.
@Suite(.serialized, .tags(.endToEnd)) struct DurabilityTests {
    /// Raw `up` samples (timestamps in ms) for `job` over the last `window` seconds.
    static func upTimestamps(_ receiver: PrometheusReceiver, job: String, window: Int) -> [Int64]? {
        let path = "/api/v1/query?query=" + Harness.percentEncode("up{job=\"\(job)\"}[\(window)s]")
        guard let (status, body) = Harness.get(port: receiver.port, path: path), status == 200,
            let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
            let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
        else { return nil }
        var out: [Int64] = []
        for series in result {
            for pair in series["values"] as? [[Any]] ?? [] {
                if let t = pair.first as? Double { out.append(Int64((t * 1000).rounded())) }
            }
        }
        return out.sorted()
    }

    /// A metric value from Outpost's `/metrics` (first line starting with `prefix` and containing
    /// `containing`).
    static func metric(_ port: Int, _ prefix: String, containing: String = "") -> Double? {
        guard let body = Harness.get(port: port, path: "/metrics")?.body else { return nil }
        guard let line = body.split(separator: "\n").first(where: { $0.hasPrefix(prefix) && (containing.isEmpty || $0.contains(containing)) })
        else { return nil }
        return Double(line.split(separator: " ").last ?? "")
    }

    /// Rewrites the configuration to `remoteOnly` (no scrape jobs), reloads with SIGHUP and waits
    /// until Outpost lists no targets: from then on nothing more is appended.
    static func stopScraping(_ process: ChildProcess, port: Int, configPath: String, remoteOnly: String) async throws {
        try remoteOnly.write(toFile: configPath, atomically: true, encoding: .utf8)
        kill(process.pid, SIGHUP)
        _ = try await Harness.eventually("scraping stopped") {
            Harness.get(port: port, path: "/api/v1/targets")?.body.contains("\"activeTargets\":[]") == true ? true : nil
        }
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    @Test func noGapThroughAReceiverOutageTwoKillsAndARestart() async throws {
        let dir = Harness.tempDir("durability")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let promPort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let (node, nodePort) = try Harness.nodeExporter(logDir: dir)
        let receiver = try PrometheusReceiver(port: promPort, dir: dir)
        var prometheus = try receiver.start(logDir: dir)
        try """
            global: {scrape_interval: 1s}
            scrape_configs:
              - job_name: node
                static_configs: [{targets: ["127.0.0.1:\(nodePort)"]}]
            remote_write:
              - name: prom
                url: http://127.0.0.1:\(promPort)/api/v1/write
                queue_config: {batch_send_deadline: 500ms, max_backoff: 1s}
            """.write(toFile: dir + "/outpost.yaml", atomically: true, encoding: .utf8)
        let arguments = [
            "--config.file=\(dir)/outpost.yaml", "--storage.agent.path=\(dir)/data",
            "--web.listen-address=127.0.0.1:\(outpostPort)", "--storage.agent.wal-segment-size=256KB",
        ]
        var runs = 0
        func startOutpost() async throws -> (ChildProcess, Int64) {
            runs += 1
            let p = try ChildProcess("outpost-\(runs)", Harness.outpostBinary, arguments, logDir: dir)
            _ = try await Harness.eventually("outpost ready", timeout: .seconds(30)) {
                Harness.get(port: outpostPort, path: "/-/ready")?.status == 200 ? true : nil
            }
            return (p, Self.now())
        }
        var (outpost, _) = try await startOutpost()
        var all: [ChildProcess] = [node, prometheus, outpost]
        defer { for p in all where p.isRunning { kill(p.pid, SIGKILL) } }
        /// Windows in which Outpost was not running: a gap in `up` there is expected.
        var downtimes: [(from: Int64, to: Int64)] = []
        try await outpost.showingLogOnFailure {
            _ = try await Harness.eventually("first samples") { receiver.query("up{job=\"node\"}")?.first }
            let testStart = Self.now() - 2_000

            // The receiver goes away for 60 s; meanwhile Outpost is killed twice.
            await prometheus.stop()
            let outageStart = Self.now()
            for _ in 0..<2 {
                try await Task.sleep(for: .seconds(15))
                let killedAt = Self.now()
                await outpost.stop(signal: SIGKILL)
                let (next, readyAt) = try await startOutpost()
                outpost = next
                all.append(next)
                downtimes.append((killedAt, readyAt))
            }
            try await Task.sleep(for: .seconds(60) - .milliseconds(Self.now() - outageStart))
            prometheus = try receiver.start(logDir: dir)
            all.append(prometheus)
            let outageEnd = Self.now()

            // Once it has caught up, a clean restart in steady state.
            _ = try await Harness.eventually("backlog delivered", timeout: .seconds(90)) {
                (Self.metric(outpostPort, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds{") ?? 0)
                    * 1000 > Double(outageEnd) ? true : nil
            }
            let stoppedAt = Self.now()
            #expect(await outpost.stop() == 0)
            let (last, readyAt) = try await startOutpost()
            outpost = last
            all.append(last)
            downtimes.append((stoppedAt, readyAt))
            let checkEnd = Self.now() + 3_000
            _ = try await Harness.eventually("delivered after the restart", timeout: .seconds(60)) {
                (Self.metric(outpostPort, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds{") ?? 0)
                    * 1000 > Double(checkEnd) ? true : nil
            }

            let window = Int((Self.now() - testStart) / 1000) + 5
            let stamps = try #require(Self.upTimestamps(receiver, job: "node", window: window))
                .filter { $0 >= testStart && $0 <= checkEnd }
            var unexplained: [(Int64, Int64)] = []
            for (a, b) in zip(stamps, stamps.dropFirst()) where b - a > 1_600 {
                let explained = downtimes.contains { a >= $0.from - 1_600 && b <= $0.to + 2_600 }
                if !explained { unexplained.append((a, b)) }
            }
            #expect(unexplained.isEmpty, "gaps not explained by Outpost's own downtime: \(unexplained)")
            let duringOutage = stamps.filter { $0 > outageStart && $0 < outageEnd }.count
            let outageRunning = (outageEnd - outageStart) - downtimes.prefix(2).reduce(0) { $0 + ($1.to - $1.from) }
            #expect(Double(duringOutage) >= Double(outageRunning) / 1000 - 4, "samples scraped during the outage: \(duringOutage)")
        }
    }

    @Test func aDeadEndpointNeverDelaysALiveOneAndItsBudgetDropsExactlyWhatItCounts() async throws {
        let dir = Harness.tempDir("budget")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let livePort = Harness.freePort()
        let deadPort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let (node, nodePort) = try Harness.nodeExporter(logDir: dir)
        let live = try PrometheusReceiver(port: livePort, dir: dir + "/live")
        let liveProcess = try live.start(logDir: dir)
        let scrape = """
            global: {scrape_interval: 200ms}
            scrape_configs:
              - job_name: node
                static_configs: [{targets: ["127.0.0.1:\(nodePort)"]}]
            """
        let remote = """
            remote_write:
              - name: live
                url: http://127.0.0.1:\(livePort)/api/v1/write
                queue_config: {batch_send_deadline: 200ms}
              - name: dead
                url: http://127.0.0.1:\(deadPort)/api/v1/write
                queue_config: {batch_send_deadline: 200ms, max_backoff: 500ms}
            """
        let configPath = dir + "/outpost.yaml"
        try (scrape + "\n" + remote).write(toFile: configPath, atomically: true, encoding: .utf8)
        let budget = 768 * 1024
        let outpost = try ChildProcess(
            "outpost", Harness.outpostBinary,
            [
                "--config.file=\(configPath)", "--storage.agent.path=\(dir)/data",
                "--web.listen-address=127.0.0.1:\(outpostPort)", "--storage.agent.wal-segment-size=128KB",
                "--storage.agent.max-disk-bytes=768KB",
            ], logDir: dir)
        var all = [node, liveProcess, outpost]
        defer { for p in all where p.isRunning { kill(p.pid, SIGKILL) } }
        try await outpost.showingLogOnFailure {
            // The dead endpoint's backlog outgrows the budget and starts being dropped.
            let dropped = try await Harness.eventually("disk budget drops for the dead endpoint", timeout: .seconds(90)) {
                () -> Double? in
                guard let v = Self.metric(outpostPort, "outpost_wal_samples_dropped_total{reason=\"disk_budget\",remote_name=\"dead\"}"),
                    v > 0
                else { return nil }
                return v
            }
            #expect(dropped > 0)
            // Meanwhile the live endpoint is on time, and the WAL stays within its budget (plus the open segment).
            let lag = Double(Self.now()) / 1000
                - (Self.metric(outpostPort, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds{remote_name=\"live\"") ?? 0)
            #expect(lag < 3, "live endpoint lag \(lag)s")
            let disk = try #require(Self.metric(outpostPort, "outpost_wal_disk_bytes"))
            #expect(disk <= Double(budget + 128 * 1024 + 4096))
            #expect(Self.metric(outpostPort, "outpost_wal_samples_dropped_total{reason=\"disk_budget\",remote_name=\"live\"}") == nil)

            // Stop scraping (reload without targets), bring the dead endpoint's receiver up, and account:
            // every appended sample either arrived there or is in the drop counter.
            try await Self.stopScraping(outpost, port: outpostPort, configPath: configPath, remoteOnly: remote)
            let deadReceiver = try PrometheusReceiver(port: deadPort, dir: dir + "/dead")
            all.append(try deadReceiver.start(logDir: dir))
            var seen = ""
            let drained = try? await Harness.eventually("dead endpoint drained", timeout: .seconds(90)) {
                () -> (Double, Double, Double)? in
                let appended = Self.metric(outpostPort, "outpost_wal_samples_appended_total")
                let lost = Self.metric(outpostPort, "outpost_wal_samples_dropped_total{reason=\"disk_budget\",remote_name=\"dead\"}")
                let received = Harness.headSamplesAppended(port: deadReceiver.port)
                let pending = Self.metric(outpostPort, "prometheus_remote_storage_samples_pending{remote_name=\"dead\"")
                seen = "appended \(String(describing: appended)), received \(String(describing: received)), "
                    + "lost \(String(describing: lost)), pending \(String(describing: pending))"
                guard let appended, let lost, let received, pending == 0, received + lost >= appended else { return nil }
                return (appended, received, lost)
            }
            let (appended, received, lost) = try #require(drained, "\(seen)")
            #expect(received + lost == appended, "appended \(appended), received \(received), counted lost \(lost)")
        }
    }

    @Test func aCorruptedDataDirectoryIsRepairedReportedAndTheRestForwarded() async throws {
        let dir = Harness.tempDir("corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let promPort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let (node, nodePort) = try Harness.nodeExporter(logDir: dir)
        try """
            global: {scrape_interval: 200ms}
            scrape_configs:
              - job_name: node
                static_configs: [{targets: ["127.0.0.1:\(nodePort)"]}]
            remote_write:
              - name: prom
                url: http://127.0.0.1:\(promPort)/api/v1/write
                queue_config: {batch_send_deadline: 500ms}
            """.write(toFile: dir + "/outpost.yaml", atomically: true, encoding: .utf8)
        let arguments = [
            "--config.file=\(dir)/outpost.yaml", "--storage.agent.path=\(dir)/data",
            "--web.listen-address=127.0.0.1:\(outpostPort)", "--storage.agent.wal-segment-size=128KB",
        ]
        var all = [node]
        defer { for p in all where p.isRunning { kill(p.pid, SIGKILL) } }
        // A backlog across several segments, with the receiver not there yet.
        let first = try ChildProcess("outpost-1", Harness.outpostBinary, arguments, logDir: dir)
        all.append(first)
        let backlogStart = Self.now()
        _ = try await Harness.eventually("several segments written", timeout: .seconds(60)) { () -> Bool? in
            let segments = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/data/wal")) ?? []
            return segments.count >= 4 ? true : nil
        }
        #expect(await first.stop() == 0)
        let segments = try FileManager.default.contentsOfDirectory(atPath: dir + "/data/wal").sorted()
        // Flip bytes in the middle of the second segment; cut the last one short.
        let middle = dir + "/data/wal/" + segments[1]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: middle))
        let at = bytes.count / 2
        for i in at..<(at + 16) { bytes[i] ^= 0xa5 }
        try bytes.write(to: URL(fileURLWithPath: middle))
        let lastPath = dir + "/data/wal/" + segments[segments.count - 1]
        let last = try Data(contentsOf: URL(fileURLWithPath: lastPath))
        try last.prefix(last.count - 7).write(to: URL(fileURLWithPath: lastPath))

        let receiver = try PrometheusReceiver(port: promPort, dir: dir)
        all.append(try receiver.start(logDir: dir))
        let second = try ChildProcess("outpost-2", Harness.outpostBinary, arguments, logDir: dir)
        all.append(second)
        try await second.showingLogOnFailure {
            _ = try await Harness.eventually("outpost ready on the damaged directory", timeout: .seconds(30)) {
                Harness.get(port: outpostPort, path: "/-/ready")?.status == 200 ? true : nil
            }
            #expect(Self.metric(outpostPort, "outpost_wal_corruptions_total") == 1)
            #expect(second.log().contains("WAL corruption: segment cut at the last good record"))
            let restart = Self.now()
            _ = try await Harness.eventually("new data forwarded", timeout: .seconds(60)) {
                (Self.metric(outpostPort, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds{") ?? 0)
                    * 1000 > Double(restart + 2_000) ? true : nil
            }
            let stamps = try #require(Self.upTimestamps(receiver, job: "node", window: 600))
            // Data from before the damage (the start of the backlog) and after it both arrived.
            #expect((stamps.first ?? .max) < backlogStart + 2_000)
            #expect((stamps.last ?? 0) > restart)
            #expect(stamps.contains { $0 > backlogStart + 2_000 && $0 < restart })
        }
    }

    @Test func sampleAgeLimitDropsWhatGrewTooOldAndCountsIt() async throws {
        let dir = Harness.tempDir("age")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let promPort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let (node, nodePort) = try Harness.nodeExporter(logDir: dir)
        let remote = """
            remote_write:
              - name: prom
                url: http://127.0.0.1:\(promPort)/api/v1/write
                queue_config: {batch_send_deadline: 200ms, max_backoff: 300ms, sample_age_limit: 3s}
            """
        let configPath = dir + "/outpost.yaml"
        try ("""
            global: {scrape_interval: 500ms}
            scrape_configs:
              - job_name: node
                static_configs: [{targets: ["127.0.0.1:\(nodePort)"]}]

            """ + remote).write(toFile: configPath, atomically: true, encoding: .utf8)
        let outpost = try ChildProcess(
            "outpost", Harness.outpostBinary,
            ["--config.file=\(configPath)", "--storage.agent.path=\(dir)/data", "--web.listen-address=127.0.0.1:\(outpostPort)"],
            logDir: dir)
        var all = [node, outpost]
        defer { for p in all where p.isRunning { kill(p.pid, SIGKILL) } }
        try await outpost.showingLogOnFailure {
            // Nothing listens at the receiver's address for 8 s.
            _ = try await Harness.eventually("outpost ready", timeout: .seconds(30)) {
                Harness.get(port: outpostPort, path: "/-/ready")?.status == 200 ? true : nil
            }
            try await Task.sleep(for: .seconds(8))
            let receiver = try PrometheusReceiver(port: promPort, dir: dir + "/receiver")
            let receiverStart = Self.now()
            all.append(try receiver.start(logDir: dir))
            try await Task.sleep(for: .seconds(2))
            try await Self.stopScraping(outpost, port: outpostPort, configPath: configPath, remoteOnly: remote)
            var seen = ""
            let drained = try? await Harness.eventually("all accounted for", timeout: .seconds(60)) {
                () -> (Double, Double, Double)? in
                let appended = Self.metric(outpostPort, "outpost_wal_samples_appended_total")
                let tooOld = Self.metric(
                    outpostPort, "prometheus_remote_storage_samples_dropped_total{", containing: "reason=\"too_old\"")
                let received = Harness.headSamplesAppended(port: promPort)
                seen = "appended \(String(describing: appended)), received \(String(describing: received)), too old \(String(describing: tooOld))"
                guard let appended, let tooOld, let received, received + tooOld >= appended else { return nil }
                return (appended, received, tooOld)
            }
            let (appended, received, tooOld) = try #require(drained, "\(seen)")
            #expect(tooOld > 0)
            #expect(received + tooOld == appended, "\(seen)")
            // Nothing older than the limit (plus a send's worth of slack) was delivered.
            let stamps = try #require(Self.upTimestamps(receiver, job: "node", window: 120))
            #expect((stamps.first ?? 0) >= receiverStart - 3_000 - 1_500, "oldest delivered \(stamps.first ?? 0), receiver up at \(receiverStart)")
        }
    }

    /// Duplicates after restarts, counted by a receiver that keeps them: VictoriaMetrics counts every
    /// row it is sent. Every sample Outpost appended is in its WAL (no segment closes in this short
    /// test), so rows received minus samples in the WAL is exactly the number of resends: zero after
    /// a clean restart (the cursor is persisted at exit), at most the persist interval's worth after
    /// `kill -9`.
    @Test func duplicatesAfterRestartsStayWithinTheDocumentedBound() async throws {
        let dir = Harness.tempDir("duplicates")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vmPort = Harness.freePort()
        let outpostPort = Harness.freePort()
        let (node, nodePort) = try Harness.nodeExporter(logDir: dir)
        let vm = try ChildProcess(
            "victoria-metrics", "/usr/bin/victoria-metrics",
            ["-httpListenAddr=127.0.0.1:\(vmPort)", "-storageDataPath=\(dir)/vm", "-retentionPeriod=1d"], logDir: dir)
        let remote = """
            remote_write:
              - url: http://127.0.0.1:\(vmPort)/api/v1/write
                queue_config: {batch_send_deadline: 200ms}
            """
        let configPath = dir + "/outpost.yaml"
        try ("""
            global: {scrape_interval: 500ms}
            scrape_configs:
              - job_name: node
                static_configs: [{targets: ["127.0.0.1:\(nodePort)"]}]

            """ + remote).write(toFile: configPath, atomically: true, encoding: .utf8)
        let arguments = [
            "--config.file=\(configPath)", "--storage.agent.path=\(dir)/data", "--web.listen-address=127.0.0.1:\(outpostPort)",
        ]
        var all = [node, vm]
        defer { for p in all where p.isRunning { kill(p.pid, SIGKILL) } }
        func start(_ n: Int) async throws -> ChildProcess {
            let p = try ChildProcess("outpost-\(n)", Harness.outpostBinary, arguments, logDir: dir)
            all.append(p)
            _ = try await Harness.eventually("outpost ready", timeout: .seconds(30)) {
                Harness.get(port: outpostPort, path: "/-/ready")?.status == 200 ? true : nil
            }
            return p
        }
        func vmRows() -> Double? {
            Harness.get(port: vmPort, path: "/metrics")?.body.split(separator: "\n")
                .first { $0.hasPrefix("vm_rows_inserted_total{type=\"promremotewrite\"}") }
                .flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        _ = try await Harness.eventually("VictoriaMetrics up", timeout: .seconds(30)) { vmRows() }
        let first = try await start(1)
        try await Task.sleep(for: .seconds(6))
        let rate = try #require(Self.metric(outpostPort, "outpost_wal_samples_appended_total")) / 6
        await first.stop(signal: SIGKILL)
        let second = try await start(2)
        try await Task.sleep(for: .seconds(6))
        let rowsBeforeCleanRestart = try #require(vmRows())
        #expect(await second.stop() == 0)
        let third = try await start(3)
        // Stop scraping, then wait until everything is delivered.
        try await Self.stopScraping(third, port: outpostPort, configPath: configPath, remoteOnly: remote)
        var rows = 0.0
        var stable = 0
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while stable < 8 && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            let now = vmRows() ?? 0
            stable = now == rows && Self.metric(outpostPort, "prometheus_remote_storage_samples_pending{") == 0 ? stable + 1 : 0
            rows = now
        }
        await third.stop()
        let inspect = try ChildProcess("inspect", Harness.outpostBinary, ["wal", "inspect", "--storage.agent.path=\(dir)/data"], logDir: dir)
        inspect.process.waitUntilExit()
        let totals = try #require(inspect.log().split(separator: "\n").first { $0.hasPrefix("total:") })
        let inWAL = try #require(
            totals.split(separator: ",").first { $0.hasSuffix(" samples") }.flatMap { Double($0.split(separator: " ").first ?? "") })
        let duplicates = rows - inWAL
        print("restarts (kill -9, then SIGTERM): \(Int(inWAL)) samples appended, \(Int(rows)) received, \(Int(duplicates)) duplicates (\(Int(rate)) samples/s)")
        #expect(duplicates >= 0, "received \(rows) < appended \(inWAL): data lost")
        // At most the persist interval (5 s) plus one batch deadline of sends, from the kill -9 only.
        #expect(duplicates <= rate * 5.5, "duplicates \(duplicates), rate \(rate)/s")
        #expect(rowsBeforeCleanRestart > 0)
    }
}
