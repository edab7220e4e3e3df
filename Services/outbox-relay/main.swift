import WorkerRuntime

// Wiring only: configuration → services → run.
// The outbox-relay's flow — publish Postgres outbox rows to their topics, in order per
// aggregate — arrives as
// `OutboxRelayService`, built here from `context` (configuration, logger, health, metrics) and listed after the
// services it depends on. Until then the worker serves its admin endpoints and waits for SIGTERM/SIGINT.
await Worker(name: "outbox-relay", configuration: OutboxRelayConfiguration.self, listener: .admin(defaultPort: 9103))
    .run { context in
        []
    }
