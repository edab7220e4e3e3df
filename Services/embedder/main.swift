import WorkerRuntime

// Wiring only: configuration → services → run. The flow lives in EmbedderService.swift (per record)
// and ChunkIndexer.swift (per batch); Embedder.swift builds them.
await Worker(name: "embedder", configuration: EmbedderConfiguration.self, listener: .admin(defaultPort: 9101))
    .run { context in
        try await Embedder.build(configuration: context.configuration, health: context.health, logger: context.logger)
    }
