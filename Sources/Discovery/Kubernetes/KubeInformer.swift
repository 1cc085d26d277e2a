import Foundation
import Logging
import OutpostConfig
import Synchronization
import Telemetry
import Transport

/// A change to one watched collection.
enum KubeChange<T: KubeObject>: Sendable {
    /// A fresh list: the collection is exactly these objects.
    case replace([T])
    case upsert(T)
    case delete(T)
}

/// Lists one collection and then watches it from the list's resource version, as client-go's
/// reflector does: a watch that ends is resumed from the last version seen (bookmarks keep it
/// fresh); a `410 Gone` or an expired version lists again; errors back off from 0.8 s to 30 s.
struct KubeInformer<T: KubeObject>: Sendable {
    let client: KubeClient
    let namespace: String?
    let labelSelector: String
    let fieldSelector: String
    let logger: Logger
    let failures: CounterMetric
    let events: @Sendable (String) -> CounterMetric
    /// Reports the latest error ("" after a successful list) for `/status`.
    let report: @Sendable (String) -> Void

    func run(_ handle: @escaping @Sendable (KubeChange<T>) -> Void) async {
        let path = T.resource.path(namespace: namespace)
        var backoff: Duration = .milliseconds(800)
        let decoder = JSONDecoder()
        while !Task.isCancelled {
            do {
                let version = try await list(path, decoder, handle)
                backoff = .milliseconds(800)
                report("")
                try await watch(path, from: version, decoder, handle)
            } catch {
                if Task.isCancelled { return }
                failures.increment()
                report(error.description)
                logger.warning(
                    "kubernetes list/watch failed, retrying", metadata: ["resource": "\(T.resource.plural)", "err": "\(error)"])
                // Jittered, as client-go's backoff manager: between the delay and twice it.
                let jitter = Double.random(in: 1...2)
                try? await Task.sleep(for: backoff * jitter)
                backoff = min(backoff * 2, .seconds(30))
            }
        }
    }

    private func list(
        _ path: String, _ decoder: JSONDecoder, _ handle: @Sendable (KubeChange<T>) -> Void
    ) async throws(DiscoveryError) -> String {
        let url = client.url(path, [("labelSelector", labelSelector), ("fieldSelector", fieldSelector)])
        let result: HTTPResult
        do {
            result = try await client.transport.get(
                url: url, headers: KubeClient.headers, timeout: .seconds(60), bodyLimit: 0, settings: client.settings)
        } catch {
            throw DiscoveryError(error.message)
        }
        guard result.status == 200 else {
            throw DiscoveryError("listing \(T.resource.plural): HTTP \(result.status): \(Self.reason(result.body.prefixString(512)))")
        }
        let list: KubeList<T>
        do {
            list = try result.body.withUnsafeBytes { try decoder.decode(KubeList<T>.self, from: Data($0)) }
        } catch {
            throw DiscoveryError("listing \(T.resource.plural): cannot decode the response: \(error)")
        }
        handle(.replace(list.items ?? []))
        return list.metadata?.resourceVersion ?? ""
    }

    /// Watches until the version expires (returns, so the caller lists again) or fails (throws).
    private func watch(
        _ path: String, from start: String, _ decoder: JSONDecoder, _ handle: @escaping @Sendable (KubeChange<T>) -> Void
    ) async throws(DiscoveryError) {
        let version = Mutex(start)
        let gone = Mutex(false)
        let failure = Mutex<String?>(nil)
        while !Task.isCancelled {
            // Like client-go: each watch asks the server to end it after 5–10 minutes.
            let seconds = Int.random(in: 300...600)
            let url = client.url(
                path,
                [
                    ("labelSelector", labelSelector), ("fieldSelector", fieldSelector), ("watch", "true"),
                    ("allowWatchBookmarks", "true"), ("resourceVersion", version.withLock { $0 }),
                    ("timeoutSeconds", String(seconds)),
                ])
            let events = events
            let status: Int
            let started = ContinuousClock.now
            let seen = Mutex(0)
            do {
                status = try await client.transport.streamLines(
                    url: url, headers: KubeClient.headers, timeout: .seconds(seconds + 30), settings: client.settings
                ) { line in
                    seen.withLock { $0 += 1 }
                    let event: KubeWatchEvent<T>
                    do {
                        event = try decoder.decode(KubeWatchEvent<T>.self, from: Data(line))
                    } catch {
                        // An event we cannot read would leave the picture wrong: stop and list again.
                        failure.withLock { $0 = "an event could not be decoded (\(error))" }
                        return false
                    }
                    // Prometheus' names for informer events.
                    if let name = ["ADDED": "add", "MODIFIED": "update", "DELETED": "delete"][event.type] {
                        events(name).increment()
                    }
                    switch event.type {
                    case "ADDED", "MODIFIED":
                        if let o = event.object { handle(.upsert(o)) }
                    case "DELETED":
                        if let o = event.object { handle(.delete(o)) }
                    case "BOOKMARK":
                        break
                    case "ERROR":
                        if event.errorCode == 410 {
                            gone.withLock { $0 = true }
                        } else {
                            failure.withLock { $0 = "the server ended the watch: \(event.errorMessage ?? "code \(event.errorCode ?? 0)")" }
                        }
                        return false
                    default:
                        return true
                    }
                    let v = event.object?.metadata.resourceVersion ?? event.bookmarkVersion
                    if let v, !v.isEmpty { version.withLock { $0 = v } }
                    return true
                }
            } catch {
                throw DiscoveryError(error.message)
            }
            if status == 410 || gone.withLock({ $0 }) { return }  // expired: list again
            if let problem = failure.withLock({ $0 }) {
                throw DiscoveryError("watching \(T.resource.plural): \(problem)")
            }
            guard status == 200 else {
                throw DiscoveryError("watching \(T.resource.plural): HTTP \(status)")
            }
            // A watch that ends at once without a single event is an error (as client-go
            // treats it), so a server that keeps closing watches is not called in a tight loop.
            if seen.withLock({ $0 }) == 0 && ContinuousClock.now - started < .seconds(1) {
                throw DiscoveryError("watching \(T.resource.plural): the server closed the watch at once")
            }
        }
    }

    /// The `message` of a Kubernetes Status body, or the text itself.
    static func reason(_ body: String) -> String {
        if let s = try? JSONDecoder().decode(KubeStatusMessage.self, from: Data(body.utf8)), let m = s.message { return m }
        return body
    }
}

/// The message of a Kubernetes `Status` error body.
struct KubeStatusMessage: Decodable { var message: String? }
