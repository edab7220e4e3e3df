import Synchronization

/// Runs each process-wide bootstrap step (logging backend, metrics backend) at most once: swift-log and
/// swift-metrics crash on a second bootstrap.
enum ProcessBootstrap {
    enum Step: Hashable {
        case logging
        case metrics
    }

    private static let completed = Mutex<Set<Step>>([])

    /// Runs `body` if `step` has not run yet in this process; returns whether it ran.
    @discardableResult
    static func once(_ step: Step, _ body: () -> Void) -> Bool {
        let first = self.completed.withLock { $0.insert(step).inserted }
        if first { body() }
        return first
    }
}
