public import Hummingbird
public import Logging
public import ServiceLifecycle

/// The HTTP server of a worker's admin endpoints (``AdminEndpoints``), as a swift-service-lifecycle `Service`.
///
/// Place it first in the worker's `ServiceGroup` so it starts before, and stops after, the services it
/// reports on: `/healthz` and `/metrics` stay reachable while the worker drains. On graceful shutdown it
/// stops accepting connections and finishes requests in flight.
public struct AdminServer: Service {
    /// Where the server listens.
    public let host: String
    /// The port; 0 lets the system pick one (reported to `onListening`).
    public let port: Int

    private let endpoints: AdminEndpoints
    private let logger: Logger
    private let onListening: @Sendable (_ port: Int) async -> Void

    /// Creates the server.
    ///
    /// - Parameters:
    ///   - host: Address to bind, such as `0.0.0.0`.
    ///   - port: Port to bind; 0 picks a free one.
    ///   - endpoints: The routes to serve.
    ///   - logger: Logger for the HTTP server.
    ///   - onListening: Called once the socket is bound, with the actual port.
    public init(
        host: String,
        port: Int,
        endpoints: AdminEndpoints,
        logger: Logger,
        onListening: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        self.endpoints = endpoints
        self.logger = logger
        self.onListening = onListening
    }

    /// The Hummingbird application serving the endpoints; `run()` runs it. Exposed for `HummingbirdTesting`.
    public func makeApplication() -> some ApplicationProtocol {
        let router = Router()
        self.endpoints.addRoutes(to: router)
        let onListening = self.onListening
        let fallbackPort = self.port
        return Application(
            router: router,
            configuration: .init(address: .hostname(self.host, port: self.port)),
            onServerRunning: { channel in
                await onListening(channel.localAddress?.port ?? fallbackPort)
            },
            logger: self.logger
        )
    }

    /// Serves until graceful shutdown or cancellation.
    public func run() async throws {
        try await self.makeApplication().run()
    }
}
