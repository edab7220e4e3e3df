import Synchronization

/// The liveness and readiness state of one worker process, behind `/healthz` and `/readyz`.
///
/// - Liveness (`/healthz`): the process is up and not shutting down. It turns false once graceful shutdown
///   starts, so an orchestrator stops routing to the instance while it drains.
/// - Readiness (`/readyz`): not shutting down, and every registered ``ReadinessCheck`` passes.
///
/// Services register their checks (usually while being constructed in the worker's `main.swift`); the
/// runtime marks the start of shutdown. Safe to use from any task.
public final class HealthMonitor: Sendable {
    private struct State {
        var checks: [ReadinessCheck] = []
        var isShuttingDown = false
    }

    private let state = Mutex(State())

    /// Creates a monitor with no checks, alive and not shutting down.
    public init() {}

    /// Adds a readiness check. A check with the same name as an existing one replaces it.
    public func register(_ check: ReadinessCheck) {
        self.state.withLock { state in
            if let index = state.checks.firstIndex(where: { $0.name == check.name }) {
                state.checks[index] = check
            } else {
                state.checks.append(check)
            }
        }
    }

    /// Adds a check named `name` backed by a new flag, and returns the flag for the owning service to set.
    public func registerFlag(named name: String, initial: ReadinessStatus = .notReady(reason: "starting")) -> ReadinessFlag {
        let flag = ReadinessFlag(initial)
        self.register(ReadinessCheck(name: name, flag: flag))
        return flag
    }

    /// Records that graceful shutdown has begun: from now on the process is neither live nor ready.
    public func beginShutdown() {
        self.state.withLock { $0.isShuttingDown = true }
    }

    /// Whether graceful shutdown has begun.
    public var isShuttingDown: Bool {
        self.state.withLock { $0.isShuttingDown }
    }

    /// Whether the process is alive and not shutting down (what `/healthz` reports).
    public var isLive: Bool { !self.isShuttingDown }

    /// Evaluates every check concurrently, each bounded by its timeout.
    public func readiness() async -> ReadinessReport {
        let (checks, isShuttingDown) = self.state.withLock { ($0.checks, $0.isShuttingDown) }
        var entries = await withTaskGroup(of: (Int, ReadinessReport.Entry).self) { group in
            for (index, check) in checks.enumerated() {
                group.addTask { (index, .init(name: check.name, status: await check.evaluate())) }
            }
            var results: [(Int, ReadinessReport.Entry)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        if isShuttingDown {
            entries.insert(.init(name: "shutdown", status: .notReady(reason: "graceful shutdown in progress")), at: 0)
        }
        return ReadinessReport(checks: entries)
    }
}
