/// The outcome of one readiness check.
public enum ReadinessStatus: Sendable, Equatable {
    /// The dependency is usable.
    case ready
    /// The dependency is not usable yet (or any more); `reason` says why, for operators reading `/readyz`.
    case notReady(reason: String)

    /// Whether the status is ``ready``.
    public var isReady: Bool {
        if case .ready = self { return true }
        return false
    }
}
