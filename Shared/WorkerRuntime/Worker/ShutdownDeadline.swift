import Logging

/// Bounds a graceful shutdown: once shutdown starts, services get ``gracefulPeriod`` to finish their work,
/// are then cancelled (by the `ServiceGroup`), and when ``timeout`` has passed the process exits regardless.
struct ShutdownDeadline: Sendable {
    /// The whole budget, from the shutdown signal to process exit (`RAG_SHUTDOWN_TIMEOUT`).
    let timeout: Duration

    /// The part of the budget left for services to react to cancellation: a fifth, at most 5 seconds.
    var cancellationGrace: Duration { min(self.timeout / 5, .seconds(5)) }

    /// How long services may shut down gracefully before they are cancelled.
    var gracefulPeriod: Duration { self.timeout - self.cancellationGrace }

    /// Waits for the first element of `started`, then for ``timeout``, then calls `expire`. Returns early when
    /// the calling task is cancelled (the normal case: everything stopped in time).
    func enforce(after started: AsyncStream<Void>, expire: @Sendable () -> Void) async {
        var iterator = started.makeAsyncIterator()
        guard await iterator.next() != nil, !Task.isCancelled else { return }
        do {
            try await Task.sleep(for: self.timeout)
        } catch {
            return
        }
        expire()
    }
}
