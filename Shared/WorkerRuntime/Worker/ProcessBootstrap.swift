import Synchronization

/// Runs each process-wide bootstrap step (logging, metrics and tracing backends) at most once: swift-log,
/// swift-metrics and swift-distributed-tracing crash on a second bootstrap.
enum ProcessBootstrap {
    enum Step: Hashable {
        case logging
        case metrics
        case tracing
    }

    private static let completed = Mutex<Set<Step>>([])

    /// Runs `body` if `step` has not run yet in this process; returns whether it ran.
    @discardableResult
    static func once(_ step: Step, _ body: () throws -> Void) rethrows -> Bool {
        let first = self.completed.withLock { $0.insert(step).inserted }
        if first { try body() }
        return first
    }
}
