import WorkerRuntime

// Wiring only: configuration → services → run.
// The rag-chain's flow — consume rag.queries, retrieve, answer, write the answer and its
// outbox row — arrives as
// `RagChainService`, built here from `context` (configuration, logger, health, metrics) and listed after the
// services it depends on. Until then the worker serves its admin endpoints and waits for SIGTERM/SIGINT.
await Worker(name: "rag-chain", configuration: RagChainConfiguration.self, listener: .admin(defaultPort: 9102))
    .run { context in
        []
    }
