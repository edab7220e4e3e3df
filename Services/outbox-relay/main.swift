import WorkerRuntime

// Wiring only: configuration → services → run. The flow lives in OutboxRelayService.swift (claim, publish,
// mark, in order per aggregate) and OutboxHousekeeping.swift (backlog metrics, retention); OutboxRelay.swift
// builds them.
await Worker(name: "outbox-relay", configuration: OutboxRelayConfiguration.self, listener: .admin(defaultPort: 9103))
    .run { context in
        try OutboxRelay.build(configuration: context.configuration, health: context.health, logger: context.logger)
    }
