/// The result of evaluating every readiness check once: what `/readyz` renders.
public struct ReadinessReport: Sendable, Equatable {
    /// One check's result.
    public struct Entry: Sendable, Equatable, Codable {
        /// The check's name.
        public var name: String
        /// `ready` or `not ready`.
        public var status: String
        /// Why the check is not ready; absent when it is.
        public var reason: String?

        /// Creates an entry from a check's name and status.
        public init(name: String, status: ReadinessStatus) {
            self.name = name
            switch status {
            case .ready:
                self.status = "ready"
                self.reason = nil
            case .notReady(let reason):
                self.status = "not ready"
                self.reason = reason
            }
        }
    }

    /// Every check, in registration order (a shutdown in progress appears as a failing `shutdown` entry).
    public var checks: [Entry]

    /// Creates a report from its entries.
    public init(checks: [Entry]) {
        self.checks = checks
    }

    /// Whether every check is ready.
    public var isReady: Bool { self.checks.allSatisfy { $0.reason == nil } }

    /// The checks that are not ready.
    public var failing: [Entry] { self.checks.filter { $0.reason != nil } }
}
