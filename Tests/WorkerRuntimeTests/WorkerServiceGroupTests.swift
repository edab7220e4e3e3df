import Logging
import Prometheus
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

@testable import WorkerRuntime

@Suite("WorkerServiceGroup", .timeLimit(.minutes(2)))
struct WorkerServiceGroupTests {
    /// Records when it starts and stops, and whether the worker was still live when it was asked to stop.
    struct RecordingService: Service {
        let name: String
        let events: EventRecorder
        let health: HealthMonitor

        func run() async throws {
            self.events.record("\(self.name) started")
            try await gracefulShutdown()
            self.events.record("\(self.name) stopping, live: \(self.health.isLive)")
        }
    }

    /// Ignores graceful shutdown and keeps working until cancelled.
    struct StubbornService: Service {
        let events: EventRecorder

        func run() async {
            self.events.record("stubborn started")
            try? await gracefulShutdown()
            self.events.record("stubborn asked to stop")
            try? await Task.sleep(for: .seconds(60))
            self.events.record(Task.isCancelled ? "stubborn cancelled" : "stubborn finished its sleep")
        }
    }

    private static let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    private func makeGroup(
        services: [any Service],
        health: HealthMonitor,
        events: EventRecorder,
        shutdownTimeout: Duration
    ) -> WorkerServiceGroup {
        let admin = AdminServer(
            host: "127.0.0.1",
            port: 0,
            endpoints: AdminEndpoints(health: health, registry: PrometheusCollectorRegistry()),
            logger: Self.quietLogger,
            onListening: { port in events.record("admin listening on \(port > 0)") }
        )
        return WorkerServiceGroup(
            server: admin,
            services: services,
            health: health,
            shutdownTimeout: shutdownTimeout,
            handlesSignals: false,
            logger: Self.quietLogger,
            expire: { _, _ in events.record("deadline expired") }
        )
    }

    @Test("graceful shutdown marks the worker not live first, then stops services last-first")
    func gracefulShutdownOrder() async throws {
        let health = HealthMonitor()
        let events = EventRecorder()
        let group = self.makeGroup(
            services: [
                RecordingService(name: "consumer", events: events, health: health),
                RecordingService(name: "processor", events: events, health: health),
            ],
            health: health,
            events: events,
            shutdownTimeout: .seconds(30)
        )

        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let running = try await events.wait {
                    $0.contains("admin listening on true") && $0.contains("consumer started") && $0.contains("processor started")
                }
                #expect(running, "\(events.all)")
                #expect(health.isLive)

                trigger.triggerGracefulShutdown()
                try await tasks.next()
            }
        }

        #expect(health.isShuttingDown)
        let stops = events.all.filter { $0.contains("stopping") }
        #expect(stops == ["processor stopping, live: false", "consumer stopping, live: false"])
    }

    @Test("the server's clients stop after the server: no request is accepted once the producer flushes")
    func serverClientsOutliveTheServer() async throws {
        let health = HealthMonitor()
        let events = EventRecorder()
        let group = WorkerServiceGroup(
            serverClients: [RecordingService(name: "producer", events: events, health: health)],
            server: RecordingService(name: "http server", events: events, health: health),
            services: [RecordingService(name: "results feed", events: events, health: health)],
            health: health,
            shutdownTimeout: .seconds(30),
            handlesSignals: false,
            logger: Self.quietLogger,
            expire: { _, _ in events.record("deadline expired") }
        )
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                #expect(try await events.wait { $0.filter { $0.hasSuffix("started") }.count == 3 }, "\(events.all)")
                trigger.triggerGracefulShutdown()
                try await tasks.next()
            }
        }
        let stops = events.all.filter { $0.contains("stopping") }.map { $0.replacingOccurrences(of: " stopping, live: false", with: "") }
        #expect(stops == ["results feed", "http server", "producer"])
    }

    @Test("services that ignore graceful shutdown are cancelled when the graceful period ends")
    func escalatesToCancellation() async throws {
        let health = HealthMonitor()
        let events = EventRecorder()
        // 20 s budget: 16 s graceful period, then cancellation, 4 s before the process-exit deadline.
        let group = self.makeGroup(
            services: [StubbornService(events: events)],
            health: health,
            events: events,
            shutdownTimeout: .seconds(20)
        )

        let clock = ContinuousClock()
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                #expect(try await events.wait { $0.contains("stubborn started") && $0.contains("admin listening on true") })
                let shutdownStart = clock.now
                trigger.triggerGracefulShutdown()
                try await tasks.next()
                let elapsed = clock.now - shutdownStart
                // Not sooner than the graceful period; whether it ended before the 5 s exit deadline is
                // checked below by "deadline expired" never being recorded (wall time is unreliable when
                // the test process shares 2 cores with the other tests).
                #expect(elapsed >= .seconds(15.9), "took \(elapsed)")
            }
        }
        #expect(events.all.suffix(2) == ["stubborn asked to stop", "stubborn cancelled"])
        #expect(!events.all.contains("deadline expired"))
    }

    @Test("the shutdown deadline fires only after shutdown starts and only if the group has not stopped")
    func shutdownDeadline() async throws {
        let deadline = ShutdownDeadline(timeout: .milliseconds(200))
        #expect(deadline.gracefulPeriod == .milliseconds(160))
        #expect(ShutdownDeadline(timeout: .seconds(30)).gracefulPeriod == .seconds(25))

        // Started: expires after the timeout.
        let events = EventRecorder()
        let (started, start) = AsyncStream.makeStream(of: Void.self)
        start.yield()
        let clock = ContinuousClock()
        let begin = clock.now
        await deadline.enforce(after: started) { events.record("expired after start") }
        #expect(events.all == ["expired after start"])
        #expect(clock.now - begin >= .milliseconds(200))

        // Never started, then cancelled (the group stopped): never expires.
        let (idle, _) = AsyncStream.makeStream(of: Void.self)
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await deadline.enforce(after: idle) { events.record("expired without start") } }
            try? await Task.sleep(for: .milliseconds(300))
            tasks.cancelAll()
        }
        #expect(events.all == ["expired after start"])
    }
}
