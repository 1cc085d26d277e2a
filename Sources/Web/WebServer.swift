import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Telemetry

/// The local HTTP endpoints: `/metrics`, `/status`, `/api/v1/targets`, `/-/healthy`, `/-/ready`,
/// `/-/reload`. Handlers only read the registry and status snapshots.
public enum WebServer {
    /// Parses Prometheus' `--web.listen-address` form: `host:port`, `:port`, `[v6]:port`.
    public static func parseListenAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// Builds the application (a `Service`, to run in the process' service group).
    public static func make(
        host: String, port: Int, registry: MetricsRegistry, status: StatusBoard,
        reload: (@Sendable () async -> String?)?, logger: Logger
    ) -> some Service {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            let bytes = registry.emitToBuffer()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/-/healthy") { _, _ in text("Outpost is Healthy.\n") }
        router.get("/-/ready") { _, _ in text("Outpost is Ready.\n") }
        router.get("/status") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: StatusPage.html(status.snapshot()))))
        }
        router.get("/") { _, _ -> Response in
            Response(status: .found, headers: [.location: "/status"])
        }
        router.get("/api/v1/targets") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: StatusPage.targetsJSON(status.snapshot()))))
        }
        router.post("/-/reload") { _, _ -> Response in
            guard let reload else {
                return Response(
                    status: .forbidden,
                    body: .init(byteBuffer: ByteBuffer(string: "Lifecycle API is not enabled.\n")))
            }
            if let error = await reload() {
                return Response(
                    status: .internalServerError,
                    body: .init(byteBuffer: ByteBuffer(string: "failed to reload config: \(error)\n")))
            }
            return Response(status: .ok)
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: nil),
            logger: logger)
    }

    private static func text(_ s: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: s)))
    }
}
