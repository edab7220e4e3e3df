import WorkerRuntime

// Wiring only: configuration → services → run. The flow lives in ReviewSamplerService.swift (per result) and
// SamplingPolicy.swift (which results are sampled); ReviewSampler.swift builds them.
await Worker(name: "review-sampler", configuration: ReviewSamplerConfiguration.self, listener: .admin(defaultPort: 9104))
    .run { context in
        try ReviewSampler.build(configuration: context.configuration, health: context.health, logger: context.logger)
    }
