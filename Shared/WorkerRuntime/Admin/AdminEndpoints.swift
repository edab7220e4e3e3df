public import Hummingbird
public import Prometheus

import Foundation

/// The operational endpoints every worker serves: `GET /healthz`, `GET /readyz` and `GET /metrics`.
///
/// Workers get them from ``AdminServer``; the gateway will mount them on its main HTTP router with
/// ``addRoutes(to:)``. Responses are never cached (`Cache-Control: no-store`).
///
/// - `/healthz`: 200 `{"status":"ok"}` while the process is alive and not shutting down, else 503
///   `{"status":"shutting down"}`.
/// - `/readyz`: 200 `{"status":"ready","checks":[…]}` when every readiness check passes, else 503
///   `{"status":"not ready","failing":["kafka",…],"checks":[{"name":"kafka","status":"not ready","reason":"…"},…]}`.
/// - `/metrics`: the Prometheus text exposition format (version 0.0.4) of the registry.
public struct AdminEndpoints: Sendable {
    /// The content type of the Prometheus text exposition format.
    public static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    private let health: HealthMonitor
    private let registry: PrometheusCollectorRegistry

    /// Creates the endpoints over a worker's health state and metrics registry.
    public init(health: HealthMonitor, registry: PrometheusCollectorRegistry) {
        self.health = health
        self.registry = registry
    }

    /// Adds the three routes to `router` (or a route group).
    public func addRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        let health = self.health
        let registry = self.registry

        router.get("healthz") { _, _ -> Response in
            health.isLive
                ? Self.json(.ok, HealthBody(status: "ok"))
                : Self.json(.serviceUnavailable, HealthBody(status: "shutting down"))
        }

        router.get("readyz") { _, _ -> Response in
            let report = await health.readiness()
            return report.isReady
                ? Self.json(.ok, ReadinessBody(status: "ready", failing: nil, checks: report.checks))
                : Self.json(
                    .serviceUnavailable,
                    ReadinessBody(status: "not ready", failing: report.failing.map(\.name), checks: report.checks)
                )
        }

        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: Self.metricsContentType, .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
    }

    private struct HealthBody: Encodable {
        var status: String
    }

    private struct ReadinessBody: Encodable {
        var status: String
        var failing: [String]?
        var checks: [ReadinessReport.Entry]
    }

    private static func json(_ status: HTTPResponse.Status, _ body: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding these plain structs of strings cannot fail.
        let data = (try? encoder.encode(body)) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
