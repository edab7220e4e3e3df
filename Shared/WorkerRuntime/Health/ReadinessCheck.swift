/// A named probe that says whether one dependency of the worker is usable (broker reachable, partitions
/// assigned, database connected, model loaded, …).
///
/// Register checks on the worker's ``HealthMonitor``; `/readyz` answers 200 only when every registered check
/// reports ``ReadinessStatus/ready``. A probe that takes longer than its ``timeout`` counts as not ready.
/// Probes run concurrently on every `/readyz` request, so keep them cheap: prefer reporting state a service
/// already tracks (see ``ReadinessFlag``) over doing network round trips.
public struct ReadinessCheck: Sendable {
    /// The name `/readyz` reports, such as `kafka` or `postgres`.
    public let name: String
    /// How long the probe may take before it counts as not ready.
    public let timeout: Duration
    /// The probe itself.
    public let probe: @Sendable () async -> ReadinessStatus

    /// Creates a check from a probe.
    ///
    /// - Parameters:
    ///   - name: The name `/readyz` reports.
    ///   - timeout: How long the probe may take; 2 seconds by default.
    ///   - probe: Returns the current status; it should return promptly when its task is cancelled.
    public init(name: String, timeout: Duration = .seconds(2), probe: @escaping @Sendable () async -> ReadinessStatus) {
        self.name = name
        self.timeout = timeout
        self.probe = probe
    }

    /// A check that is ready when `operation` succeeds (e.g. `SELECT 1` on a pool) and not ready, with the
    /// error as the reason, when it throws.
    public init(name: String, timeout: Duration = .seconds(2), succeeds operation: @escaping @Sendable () async throws -> Void) {
        self.init(name: name, timeout: timeout) {
            do {
                try await operation()
                return .ready
            } catch {
                return .notReady(reason: "\(error)")
            }
        }
    }

    /// A check that is not ready while `failure` returns an error (e.g. a client's fatal error), ready otherwise.
    public init(name: String, failure: @escaping @Sendable () -> (any Error)?) {
        self.init(name: name) { failure().map { .notReady(reason: "\($0)") } ?? .ready }
    }

    /// A check that reports the current state of `flag`.
    public init(name: String, flag: ReadinessFlag) {
        self.init(name: name) { flag.status }
    }

    /// Runs the probe, bounded by ``timeout``.
    public func evaluate() async -> ReadinessStatus {
        let timeout = self.timeout
        let probe = self.probe
        return await withTaskGroup(of: ReadinessStatus?.self) { group in
            group.addTask { await probe() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .notReady(reason: "check did not answer within \(DurationText.format(timeout))")
        }
    }
}
