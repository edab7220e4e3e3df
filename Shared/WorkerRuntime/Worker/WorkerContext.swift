public import Logging
public import Prometheus

/// What a worker's `main.swift` gets to build its services: the validated configuration, a logger, the
/// health monitor to register readiness checks on, and the metrics registry.
public struct WorkerContext<Configuration: WorkerConfiguration>: Sendable {
    /// The worker's name, such as `embedder` (also the root logger label).
    public let name: String
    /// The worker's validated configuration.
    public let configuration: Configuration
    /// The runtime settings (log level, admin listener, shutdown deadline).
    public let runtime: RuntimeConfiguration
    /// A logger labelled with the worker's name; derive per-service loggers from it.
    public let logger: Logger
    /// Register readiness checks here; `/readyz` reports them.
    public let health: HealthMonitor
    /// The registry `/metrics` exposes. swift-metrics types (`Counter`, `Timer`, …) already report into it.
    public let metrics: PrometheusCollectorRegistry

    /// Creates a context; the runtime does this after validating the configuration.
    public init(
        name: String,
        configuration: Configuration,
        runtime: RuntimeConfiguration,
        logger: Logger,
        health: HealthMonitor,
        metrics: PrometheusCollectorRegistry
    ) {
        self.name = name
        self.configuration = configuration
        self.runtime = runtime
        self.logger = logger
        self.health = health
        self.metrics = metrics
    }
}
