import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The comparison users will make: the same receiver outage with two `kill -9` of the agent, run
/// against Outpost, `prometheus --enable-feature=agent` and `vmagent` (both from Debian). Outpost
/// must lose nothing; what the peers lose is measured and printed.
@Suite(.serialized, .tags(.endToEnd)) struct PeerDurabilityTests {
    enum Agent: String, CaseIterable, Sendable {
        case outpost, prometheusAgent = "prometheus-agent", vmagent
    }

    struct Outcome {
        var expected: Int
        var present: Int
        var lost: Int { max(0, expected - present) }
    }

    static func run(_ agent: Agent) async throws -> Outcome {
        let dir = Harness.tempDir("peer-\(agent.rawValue)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let promPort = Harness.freePort()
        let agentPort = Harness.freePort()
        let (node, nodePort) = try Harness.nodeExporter(logDir: dir)
        let receiver = try PrometheusReceiver(port: promPort, dir: dir + "/receiver")
        var prometheus = try receiver.start(logDir: dir)
        let write = "http://127.0.0.1:\(promPort)/api/v1/write"
        let scrape = """
            global: {scrape_interval: 1s}
            scrape_configs:
              - job_name: node
                static_configs: [{targets: ["127.0.0.1:\(nodePort)"]}]
            """
        try (scrape + "\nremote_write:\n  - url: \(write)\n").write(
            toFile: dir + "/agent.yml", atomically: true, encoding: .utf8)
        // vmagent takes remote-write settings as flags and refuses them in its scrape config.
        try scrape.write(toFile: dir + "/scrape.yml", atomically: true, encoding: .utf8)
        let (binary, arguments, readyPath): (String, [String], String) =
            switch agent {
            case .outpost:
                (Harness.outpostBinary,
                 ["--config.file=\(dir)/agent.yml", "--storage.agent.path=\(dir)/data",
                  "--web.listen-address=127.0.0.1:\(agentPort)"], "/-/ready")
            case .prometheusAgent:
                ("/usr/bin/prometheus",
                 ["--enable-feature=agent", "--config.file=\(dir)/agent.yml", "--storage.agent.path=\(dir)/data",
                  "--web.listen-address=127.0.0.1:\(agentPort)"], "/-/ready")
            case .vmagent:
                ("/usr/bin/vmagent",
                 ["-promscrape.config=\(dir)/scrape.yml", "-remoteWrite.url=\(write)",
                  "-remoteWrite.tmpDataPath=\(dir)/data", "-httpListenAddr=127.0.0.1:\(agentPort)"], "/health")
            }
        var runs = 0
        func start() async throws -> (ChildProcess, Int64) {
            runs += 1
            let p = try ChildProcess("\(agent.rawValue)-\(runs)", binary, arguments, logDir: dir)
            _ = try await Harness.eventually("\(agent.rawValue) ready", timeout: .seconds(30)) {
                Harness.get(port: agentPort, path: readyPath)?.status == 200 ? true : nil
            }
            return (p, DurabilityTests.now())
        }
        var (process, _) = try await start()
        var all = [node, prometheus, process]
        defer { for p in all where p.isRunning { kill(p.pid, SIGKILL) } }
        _ = try await Harness.eventually("\(agent.rawValue) delivering", timeout: .seconds(60)) {
            receiver.query("up{job=\"node\"}")?.first
        }
        let windowStart = DurabilityTests.now()
        var downtime: Int64 = 0
        await prometheus.stop()
        for _ in 0..<2 {
            try await Task.sleep(for: .seconds(8))
            let killed = DurabilityTests.now()
            await process.stop(signal: SIGKILL)
            let (next, ready) = try await start()
            process = next
            all.append(next)
            downtime += ready - killed
        }
        try await Task.sleep(for: .seconds(8))
        let windowEnd = DurabilityTests.now()
        prometheus = try receiver.start(logDir: dir)
        all.append(prometheus)
        // Wait until the count for the window stops growing (whatever is coming has come).
        var last = -1
        var stable = 0
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(150)
        // Peers back off for up to a minute between retries: give them 20 s of quiet before counting.
        while clock.now < deadline && stable < 40 {
            try await Task.sleep(for: .milliseconds(500))
            let seconds = Int((DurabilityTests.now() - windowStart) / 1000) + 5
            let n = DurabilityTests.upTimestamps(receiver, job: "node", window: seconds)?
                .filter { $0 >= windowStart && $0 <= windowEnd }.count ?? -1
            stable = n == last && n >= 0 ? stable + 1 : 0
            last = n
        }
        let expected = Int((windowEnd - windowStart - downtime) / 1000)
        return Outcome(expected: expected, present: max(0, last))
    }

    @Test func outageWithTwoCrashesAgainstThePeers() async throws {
        var report = "outage-with-crash (24 s receiver outage, agent kill -9 twice, 1 s scrapes of node_exporter):\n"
        var outcomes: [Agent: Outcome] = [:]
        for agent in Agent.allCases {
            let outcome = try await Self.run(agent)
            outcomes[agent] = outcome
            report += "  \(agent.rawValue): \(outcome.present) of \(outcome.expected) scrapes delivered, \(outcome.lost) lost\n"
        }
        print(report)
        let outpost = try #require(outcomes[.outpost])
        // One scrape per restart may fall on either side of the downtime boundary.
        #expect(outpost.lost <= 2, "\(report)")
        #expect(outpost.expected >= 15)
        for agent in [Agent.prometheusAgent, .vmagent] {
            #expect((outcomes[agent]?.expected ?? 0) >= 15, "\(agent.rawValue) ran the scenario")
        }
    }
}
