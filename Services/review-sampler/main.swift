import WorkerRuntime

// Wiring only: configuration → services → run.
// The review-sampler's flow — sample rag.results into rag.human-review — arrives as
// `ReviewSamplerService`, built here from `context` (configuration, logger, health, metrics) and listed after the
// services it depends on. Until then the worker serves its admin endpoints and waits for SIGTERM/SIGINT.
await Worker(name: "review-sampler", configuration: ReviewSamplerConfiguration.self, listener: .admin(defaultPort: 9104))
    .run { context in
        []
    }
