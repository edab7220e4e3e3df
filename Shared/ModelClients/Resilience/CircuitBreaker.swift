import Synchronization

/// Stops calling a provider that keeps failing, so a dead provider costs neither CPU nor sockets
/// (SPEC §7), and probes it now and then to notice when it is back.
///
/// - **closed**: calls go through; ``Configuration/failureThreshold`` consecutive failures open it.
/// - **open**: calls fail at once with `.circuitOpen`, whose `retryAfter` is the rest of the
///   cool-down (``RetryPolicy`` waits that long before retrying).
/// - **half-open**: after ``Configuration/coolDown`` the next call is let through as the single
///   trial; the others keep failing fast (with `retryAfter` = min(cool-down, 1 s)) until it ends.
///   Success closes the circuit, failure opens it for another cool-down.
///
/// What counts: errors whose kind is in ``Configuration/failureKinds`` are failures (by default 5xx,
/// timeouts, connection errors and malformed answers). `.rejected` (a 4xx answer: the provider is up
/// and refused one input), `.rateLimited` (it is up and busy) and `.cancelled` count for nothing: a
/// success streak is not reset by them, and a trial ending so leaves the circuit half-open for the
/// next caller's trial.
///
/// Usage per call: ``acquire(now:)`` → call the provider → ``record(_:error:now:)`` with the permit.
/// Results of calls started before the last state change are ignored, so slow stragglers cannot
/// undo a newer decision. Thread-safe (`Mutex`); the state-change callback runs outside the lock.
public final class CircuitBreaker: Sendable {
    /// Thresholds and timing.
    public struct Configuration: Sendable, Hashable {
        /// Consecutive failures that open the circuit (at least 1). Default 5.
        public var failureThreshold: Int
        /// How long the circuit stays open before a trial call is let through. Default 10 s.
        public var coolDown: Duration
        /// The error kinds that count as failures.
        public var failureKinds: Set<ModelCallError.Kind>

        /// The kinds counted by default: the provider is down or broken.
        public static let defaultFailureKinds: Set<ModelCallError.Kind> = [.unavailable, .timeout, .connection, .malformedResponse]

        /// Creates a configuration.
        public init(failureThreshold: Int = 5, coolDown: Duration = .seconds(10), failureKinds: Set<ModelCallError.Kind> = Configuration.defaultFailureKinds) {
            precondition(failureThreshold >= 1, "failureThreshold must be at least 1")
            self.failureThreshold = failureThreshold
            self.coolDown = coolDown
            self.failureKinds = failureKinds
        }
    }

    /// The circuit's position.
    public enum State: String, Sendable, Hashable {
        /// Calls go through.
        case closed
        /// Calls fail fast.
        case open
        /// One trial call decides.
        case halfOpen = "half_open"
    }

    /// Leave to make one call, returned by ``acquire(now:)`` and handed back to ``record(_:error:now:)``.
    public struct Permit: Sendable, Hashable {
        fileprivate let generation: UInt64
        /// Whether this call is the half-open trial.
        public let isTrial: Bool
    }

    private enum Position {
        case closed(consecutiveFailures: Int)
        case open(until: ContinuousClock.Instant)
        case halfOpen(trialInFlight: Bool)

        var state: State {
            switch self {
            case .closed: .closed
            case .open: .open
            case .halfOpen: .halfOpen
            }
        }
    }

    private struct Machine {
        var position: Position = .closed(consecutiveFailures: 0)
        /// Bumped on every change of position, to tell stale permits apart.
        var generation: UInt64 = 0

        mutating func move(to position: Position) -> State? {
            let before = self.position.state
            self.position = position
            generation &+= 1
            return before == position.state ? nil : position.state
        }
    }

    /// The thresholds in force.
    public let configuration: Configuration
    private let machine = Mutex(Machine())
    private let onStateChange: @Sendable (State) -> Void

    /// Creates a closed breaker.
    /// - Parameter onStateChange: Called after each change of ``state`` (metrics, logs), outside the lock,
    ///   from the task that caused it.
    public init(configuration: Configuration = Configuration(), onStateChange: @escaping @Sendable (State) -> Void = { _ in }) {
        self.configuration = configuration
        self.onStateChange = onStateChange
    }

    /// The position now (an open circuit whose cool-down has passed still reads `open` until a call
    /// turns it half-open).
    public var state: State {
        machine.withLock { $0.position.state }
    }

    /// Asks to make a call.
    /// - Returns: A permit to hand back to ``record(_:error:now:)`` when the call ends.
    /// - Throws: `.circuitOpen` with `retryAfter` while the circuit is open, or half-open with its
    ///   trial in flight.
    public func acquire(now: ContinuousClock.Instant = .now) throws(ModelCallError) -> Permit {
        let coolDown = configuration.coolDown
        let (decision, change): (Result<Permit, ModelCallError>, State?) = machine.withLock { machine in
            switch machine.position {
            case .closed:
                return (.success(Permit(generation: machine.generation, isTrial: false)), nil)
            case .open(let until) where now < until:
                return (.failure(Self.openError(retryAfter: until - now)), nil)
            case .open:
                let change = machine.move(to: .halfOpen(trialInFlight: true))
                return (.success(Permit(generation: machine.generation, isTrial: true)), change)
            case .halfOpen(trialInFlight: true):
                return (.failure(Self.openError(retryAfter: min(coolDown, .seconds(1)))), nil)
            case .halfOpen(trialInFlight: false):
                machine.position = .halfOpen(trialInFlight: true)
                return (.success(Permit(generation: machine.generation, isTrial: true)), nil)
            }
        }
        if let change { onStateChange(change) }
        return try decision.get()
    }

    /// The error ``acquire(now:)`` would throw now, without taking a permit (a cheap check before
    /// waiting for rate limits or a concurrency slot); `nil` when a call could go ahead.
    public func rejection(now: ContinuousClock.Instant = .now) -> ModelCallError? {
        let coolDown = configuration.coolDown
        return machine.withLock { machine in
            switch machine.position {
            case .open(let until) where now < until: Self.openError(retryAfter: until - now)
            case .halfOpen(trialInFlight: true): Self.openError(retryAfter: min(coolDown, .seconds(1)))
            default: nil
            }
        }
    }

    /// Reports how the call made with `permit` ended: `error` `nil` for success.
    public func record(_ permit: Permit, error: ModelCallError?, now: ContinuousClock.Instant = .now) {
        let counts: Bool? = error.map { configuration.failureKinds.contains($0.kind) }  // nil: success
        let threshold = configuration.failureThreshold
        let coolDown = configuration.coolDown
        let change: State? = machine.withLock { machine in
            guard permit.generation == machine.generation else { return nil }
            switch (machine.position, counts) {
            case (.closed, nil):
                machine.position = .closed(consecutiveFailures: 0)
                return nil
            case (.closed(let failures), true):
                if failures + 1 >= threshold {
                    return machine.move(to: .open(until: now + coolDown))
                }
                machine.position = .closed(consecutiveFailures: failures + 1)
                return nil
            case (.halfOpen, nil) where permit.isTrial:
                return machine.move(to: .closed(consecutiveFailures: 0))
            case (.halfOpen, true) where permit.isTrial:
                return machine.move(to: .open(until: now + coolDown))
            case (.halfOpen, false) where permit.isTrial:
                machine.position = .halfOpen(trialInFlight: false)
                return nil
            default:
                return nil
            }
        }
        if let change { onStateChange(change) }
    }

    private static func openError(retryAfter: Duration) -> ModelCallError {
        ModelCallError(kind: .circuitOpen, message: "the circuit breaker is open: the provider failed repeatedly", retryAfter: retryAfter)
    }
}
