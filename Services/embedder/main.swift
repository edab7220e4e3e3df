import WorkerRuntime

// Wiring only: configuration → services → run.
// The embedder's flow — consume rag.chunks, embed, upsert into Postgres — arrives as
// `EmbedderService`, built here from `context` (configuration, logger, health, metrics) and listed after the
// services it depends on. Until then the worker serves its admin endpoints and waits for SIGTERM/SIGINT.
await Worker(name: "embedder", configuration: EmbedderConfiguration.self, listener: .admin(defaultPort: 9101))
    .run { context in
        []
    }
