import Logging
import ServiceLifecycle

/// The last service of every worker group, so the first one told to shut down: it marks the worker as no
/// longer live or ready (orchestrators stop routing to it while it drains) and starts the shutdown deadline,
/// then returns and lets the group shut the real services down in reverse order.
struct ShutdownWatch: Service {
    let health: HealthMonitor
    let logger: Logger
    let timeout: Duration
    let onShutdown: @Sendable () -> Void

    func run() async {
        // Returns on graceful shutdown; throws if the group is cancelled instead. Either way we are stopping.
        try? await gracefulShutdown()
        self.health.beginShutdown()
        self.logger.info(
            "shutting down",
            metadata: ["shutdown.timeout": "\(DurationText.format(self.timeout))"]
        )
        self.onShutdown()
    }
}
