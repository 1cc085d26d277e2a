import Foundation
import OutpostConfig
import Telemetry
import Transport

/// `http_sd_configs`: fetches a JSON list of target groups every `refresh_interval`. Each group
/// is labelled `__meta_url`; groups the answer no longer has are removed; a failed fetch keeps
/// the targets of the last good one and is counted in `prometheus_sd_http_failures_total`.
struct HTTPDiscovery: DiscoveryProvider {
    let config: HTTPSDConfig
    let settings: HTTPClientSettings
    let context: DiscoveryContext
    let statusKey: String
    let job: String

    func run(_ send: @escaping @Sendable ([TargetGroup]) -> Void) async {
        let failures = context.registry.makeCounter(name: "prometheus_sd_http_failures_total")
        let shown = redactURL(config.url)
        let reporter = DiscoveryReporter(
            status: context.status, key: statusKey, initial: DiscoveryStatus(job: job, mechanism: "http_sd", source: shown))
        var previous = 0
        var first = true
        while !Task.isCancelled {
            do {
                let groups = try await fetch()
                var update = groups
                for i in groups.count..<max(groups.count, previous) {
                    update.append(TargetGroup(source: "\(config.url):\(i)", targets: [], labels: []))
                }
                previous = groups.count
                send(update)
                reporter.refreshed(targets: groups.reduce(0) { $0 + $1.targets.count }, error: "")
            } catch {
                failures.increment()
                if first { send([]) }
                context.logger.error(
                    "http_sd refresh failed, keeping the previous targets",
                    metadata: ["job": "\(job)", "url": "\(shown)", "err": "\(error)"])
                reporter.failed("\(error)")
            }
            first = false
            try? await Task.sleep(for: config.refreshInterval)
        }
    }

    private func fetch() async throws(DiscoveryError) -> [TargetGroup] {
        let seconds = Double(config.refreshInterval.components.seconds)
            + Double(config.refreshInterval.components.attoseconds) / 1e18
        let result: HTTPResult
        do {
            result = try await context.transport.get(
                url: config.url,
                headers: [
                    ("User-Agent", BuildInfo.userAgent), ("Accept", "application/json"),
                    ("X-Prometheus-Refresh-Interval-Seconds", String(Int(seconds))),
                ],
                timeout: min(config.refreshInterval, .seconds(60)), bodyLimit: 64 << 20, settings: settings)
        } catch {
            throw DiscoveryError(error.message)
        }
        guard result.status == 200 else {
            throw DiscoveryError("server returned HTTP status \(result.status)")
        }
        let type = (result.header("Content-Type") ?? "").lowercased()
        guard type == "application/json" || type.hasPrefix("application/json;") else {
            throw DiscoveryError("unsupported content type \"\(result.header("Content-Type") ?? "")\"")
        }
        let data = result.body.withUnsafeBytes { Data($0) }
        var groups = try TargetGroupDecoding.json(data, origin: redactURL(config.url))
        for i in groups.indices {
            groups[i].source = "\(config.url):\(i)"
            // Prometheus puts the configured URL here; its credentials, if any, stay out of labels.
            groups[i].labels.append(("__meta_url", redactURL(config.url)))
        }
        return groups
    }
}
