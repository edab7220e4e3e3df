import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Metrics
import Prometheus
import Testing

import WorkerRuntime

@Suite("AdminEndpoints", .timeLimit(.minutes(1)))
struct AdminEndpointsTests {
    private func makeServer(health: HealthMonitor, registry: PrometheusCollectorRegistry = .init()) -> AdminServer {
        AdminServer(
            host: "127.0.0.1",
            port: 0,
            endpoints: AdminEndpoints(health: health, registry: registry),
            logger: Logger(label: "admin-test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    private func json(_ response: TestResponse) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8))
        return try #require(object as? [String: Any])
    }

    @Test("/healthz is 200 while alive and 503 once shutdown begins")
    func healthz() async throws {
        let health = HealthMonitor()
        try await self.makeServer(health: health).makeApplication().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let body = try self.json(response)
                #expect(body["status"] as? String == "ok")
            }
            health.beginShutdown()
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try self.json(response)
                #expect(body["status"] as? String == "shutting down")
            }
        }
    }

    @Test("/readyz is 503 naming the failing checks, then 200 when they flip")
    func readyz() async throws {
        let health = HealthMonitor()
        let kafka = health.registerFlag(named: "kafka")
        let postgres = ReadinessFlag(.ready)
        health.register(ReadinessCheck(name: "postgres", flag: postgres))

        try await self.makeServer(health: health).makeApplication().test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try self.json(response)
                #expect(body["status"] as? String == "not ready")
                #expect(body["failing"] as? [String] == ["kafka"])
                let checks = try #require(body["checks"] as? [[String: Any]])
                #expect(checks.map { $0["name"] as? String } == ["kafka", "postgres"])
                #expect(checks[0]["reason"] as? String == "starting")
            }

            kafka.markReady()
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                let body = try self.json(response)
                #expect(body["status"] as? String == "ready")
                #expect(body["failing"] == nil)
            }

            postgres.markNotReady(reason: "connection refused")
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try self.json(response)
                #expect(body["failing"] as? [String] == ["postgres"])
            }

            postgres.markReady()
            health.beginShutdown()
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try self.json(response)
                #expect(body["failing"] as? [String] == ["shutdown"])
            }
        }
    }

    @Test("a readiness probe that hangs counts as not ready after its timeout")
    func readyzTimeout() async throws {
        let health = HealthMonitor()
        health.register(ReadinessCheck(name: "model", timeout: .milliseconds(100)) {
            try? await Task.sleep(for: .seconds(30))
            return .ready
        })
        let started = ContinuousClock.now
        try await self.makeServer(health: health).makeApplication().test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try self.json(response)
                let checks = try #require(body["checks"] as? [[String: Any]])
                #expect((checks.first?["reason"] as? String)?.contains("did not answer within 100ms") == true)
            }
        }
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("/metrics exposes counters recorded through swift-metrics")
    func metrics() async throws {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        let counter = Counter(label: "rag_records_consumed_total", dimensions: [("topic", "rag.chunks")], factory: factory)
        counter.increment(by: 3)

        try await self.makeServer(health: HealthMonitor(), registry: registry).makeApplication().test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == AdminEndpoints.metricsContentType)
                let text = String(buffer: response.body)
                #expect(text.contains("# TYPE rag_records_consumed_total counter"))
                #expect(text.contains("rag_records_consumed_total{topic=\"rag.chunks\"} 3"))
            }
            counter.increment()
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(String(buffer: response.body).contains("rag_records_consumed_total{topic=\"rag.chunks\"} 4"))
            }
        }
    }
}
