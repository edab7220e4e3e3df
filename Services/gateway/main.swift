import WorkerRuntime

// Wiring only: configuration → services → run.
// The gateway's flow — the HTTP API that validates and produces to rag.chunks and
// rag.queries and streams rag.results over SSE, serving the admin endpoints on RAG_HTTP_PORT too — arrives as
// `GatewayService`, built here from `context` (configuration, logger, health, metrics) and listed after the
// services it depends on. Until then the worker serves its admin endpoints and waits for SIGTERM/SIGINT.
await Worker(name: "gateway", configuration: GatewayConfiguration.self, listener: .http(defaultPort: 8080))
    .run { context in
        []
    }
