import WorkerRuntime

// Wiring only: configuration → services → run. The flow lives in RagChainService.swift (per query);
// RagChain.swift builds it.
await Worker(name: "rag-chain", configuration: RagChainConfiguration.self, listener: .admin(defaultPort: 9102))
    .run { context in
        try await RagChain.build(configuration: context.configuration, health: context.health, logger: context.logger)
    }
