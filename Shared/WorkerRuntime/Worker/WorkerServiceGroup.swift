public import Logging
public import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a worker's services in one `ServiceGroup`, in this order: the clients the HTTP routes use (if any), the
/// HTTP server (admin endpoints, and the gateway's API), then the worker's services in the order given
/// (dependencies first), then an internal shutdown watch.
///
/// Services start in that order and shut down in reverse, so dependencies start first and stop last and the
/// admin endpoints outlive what they report on. On graceful shutdown (SIGTERM/SIGINT when `handlesSignals`,
/// or a graceful shutdown of an enclosing service group):
/// 1. the worker stops being live and ready (`/healthz` and `/readyz` answer 503);
/// 2. each service is asked to shut down gracefully, last first, and has the graceful period
///    (`shutdownTimeout` minus a cancellation grace of a fifth, at most 5 s) to finish;
/// 3. services still running are then cancelled;
/// 4. when `shutdownTimeout` has passed since the signal, the process exits with status 1 whatever is left.
public struct WorkerServiceGroup: Service {
    private let serverClients: [ServiceGroupConfiguration.ServiceConfiguration]
    private let server: any Service
    private let services: [ServiceGroupConfiguration.ServiceConfiguration]
    private let health: HealthMonitor
    private let deadline: ShutdownDeadline
    private let handlesSignals: Bool
    private let logger: Logger
    private let expire: @Sendable (_ logger: Logger, _ deadline: ShutdownDeadline) -> Void

    /// Creates the group.
    ///
    /// - Parameters:
    ///   - serverClients: Clients the HTTP routes use (the gateway's Kafka producer): started before the server
    ///     and stopped after it, so they are never shut down while the server still accepts requests.
    ///   - server: The HTTP server of the admin endpoints (and the gateway's API).
    ///   - services: The worker's services, dependencies first.
    ///   - health: The monitor the admin endpoints report; marked as shutting down when shutdown starts.
    ///   - shutdownTimeout: The whole shutdown budget, from signal to exit.
    ///   - handlesSignals: Whether SIGTERM and SIGINT trigger graceful shutdown. `Worker` passes `true`;
    ///     tests and groups nested in another group pass `false`.
    ///   - logger: The logger of the service group.
    public init(
        serverClients: [any Service] = [],
        server: any Service,
        services: [any Service],
        health: HealthMonitor,
        shutdownTimeout: Duration,
        handlesSignals: Bool,
        logger: Logger
    ) {
        self.init(
            serverClients: serverClients,
            server: server,
            services: services,
            health: health,
            shutdownTimeout: shutdownTimeout,
            handlesSignals: handlesSignals,
            logger: logger,
            expire: { logger, deadline in
                logger.critical(
                    "shutdown deadline exceeded, exiting",
                    metadata: ["shutdown.timeout": "\(DurationText.format(deadline.timeout))"]
                )
                exit(1)
            }
        )
    }

    /// Creates the group with a custom action for an exceeded shutdown deadline (tests must not exit).
    init(
        serverClients: [any Service] = [],
        server: any Service,
        services: [any Service],
        health: HealthMonitor,
        shutdownTimeout: Duration,
        handlesSignals: Bool,
        logger: Logger,
        expire: @escaping @Sendable (_ logger: Logger, _ deadline: ShutdownDeadline) -> Void
    ) {
        self.serverClients = serverClients.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        self.server = server
        self.services = services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        self.health = health
        self.deadline = ShutdownDeadline(timeout: shutdownTimeout)
        self.handlesSignals = handlesSignals
        self.logger = logger
        self.expire = expire
    }

    /// Runs every service until they have all stopped after a graceful shutdown, or until one fails (then the
    /// others are shut down and the failure is rethrown).
    public func run() async throws {
        let (started, startShutdown) = AsyncStream.makeStream(of: Void.self)
        let watch = ShutdownWatch(health: self.health, logger: self.logger, timeout: self.deadline.timeout) {
            startShutdown.yield()
            startShutdown.finish()
        }

        var configuration = ServiceGroupConfiguration(
            services: self.serverClients
                + [.init(service: self.server, serviceName: "HTTPServer")]
                + self.services
                + [
                    .init(
                        service: watch,
                        successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup,
                        serviceName: "ShutdownWatch"
                    )
                ],
            gracefulShutdownSignals: self.handlesSignals ? [.sigterm, .sigint] : [],
            logger: self.logger
        )
        configuration.maximumGracefulShutdownDuration = self.deadline.gracefulPeriod
        let group = ServiceGroup(configuration: configuration)

        let deadline = self.deadline
        let logger = self.logger
        let expire = self.expire
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try await group.run()
            }
            tasks.addTask {
                await deadline.enforce(after: started) { expire(logger, deadline) }
            }
            // The first task to finish is the group (the deadline task only returns when cancelled).
            try await tasks.next()
            tasks.cancelAll()
        }
    }
}
