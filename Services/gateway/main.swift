import WorkerRuntime

// Wiring only: configuration → routes and services → run. The flow lives in GatewayService.swift
// (the HTTP API) and Gateway.swift (what feeds it); the admin endpoints share the HTTP port.
await Worker(name: "gateway", configuration: GatewayConfiguration.self, listener: .http(defaultPort: 8080))
    .run(serving: GatewayRequestContext.self) { context, router in
        try Gateway.refuseUnsafeSettings(context.configuration, host: context.runtime.adminHost)
        return try await Gateway.build(configuration: context.configuration, router: router, health: context.health, logger: context.logger)
    }
