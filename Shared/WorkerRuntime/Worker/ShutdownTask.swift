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

/// Runs a start-up step (e.g. migrations that wait for the database) that graceful shutdown may cut short.
/// Returns `true` when the step finished, `false` when shutdown cancelled it — the service then returns
/// without starting its work. Other errors are thrown.
public func finishedBeforeGracefulShutdown(_ step: @escaping @Sendable () async throws -> Void) async throws -> Bool {
    do {
        try await cancelWhenGracefulShutdown { try await step() }
        return true
    } catch is CancellationError where Task.isShuttingDownGracefully {
        return false
    }
}
