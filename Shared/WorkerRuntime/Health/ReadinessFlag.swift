import Synchronization

/// A readiness state that a service sets as its situation changes and a ``ReadinessCheck`` reads.
///
/// For example, a consumer service marks its flag ready once it has joined the group and not ready with a
/// reason when the broker connection is lost. Safe to use from any task.
public final class ReadinessFlag: Sendable {
    private let state: Mutex<ReadinessStatus>

    /// Creates a flag, not ready ("starting") unless told otherwise.
    public init(_ initial: ReadinessStatus = .notReady(reason: "starting")) {
        self.state = Mutex(initial)
    }

    /// The current status.
    public var status: ReadinessStatus {
        self.state.withLock { $0 }
    }

    /// Marks the dependency usable.
    public func markReady() {
        self.state.withLock { $0 = .ready }
    }

    /// Marks the dependency unusable, with the reason `/readyz` shows.
    public func markNotReady(reason: String) {
        self.state.withLock { $0 = .notReady(reason: reason) }
    }
}
