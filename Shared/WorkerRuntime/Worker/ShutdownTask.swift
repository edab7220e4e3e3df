public import ServiceLifecycle

/// A service that does nothing until graceful shutdown, then runs `action` — for clients that must be
/// closed in order with the other services, such as a Kafka producer that flushes what it buffered.
///
/// List it before the services that use the client: services stop last-first, so it runs after them.
public struct ShutdownTask: Service {
    private let action: @Sendable () async -> Void

    public init(_ action: @escaping @Sendable () async -> Void) {
        self.action = action
    }

    public func run() async {
        try? await gracefulShutdown()
        await action()
    }
}
