import ModelClients
import Synchronization
import Testing

/// The breaker's state machine with an explicit clock (`now:`), so nothing here waits.
@Suite("CircuitBreaker", .timeLimit(.minutes(1)))
struct CircuitBreakerTests {
    private let t0 = ContinuousClock.now
    private static let failure = ModelCallError(kind: .unavailable, message: "500", status: 500)
    private static let rejected = ModelCallError(kind: .rejected, message: "400", status: 400)

    private func fail(_ breaker: CircuitBreaker, times: Int, at now: ContinuousClock.Instant) throws {
        for _ in 0..<times {
            let permit = try breaker.acquire(now: now)
            breaker.record(permit, error: Self.failure, now: now)
        }
    }

    @Test("opens after N consecutive failures, then fails fast with the remaining cool-down")
    func opensAfterThreshold() throws {
        let changes = Locked<[CircuitBreaker.State]>([])
        let breaker = CircuitBreaker(configuration: .init(failureThreshold: 3, coolDown: .seconds(10))) { state in
            changes.withLock { $0.append(state) }
        }
        try fail(breaker, times: 2, at: t0)
        #expect(breaker.state == .closed)
        try fail(breaker, times: 1, at: t0)
        #expect(breaker.state == .open)
        #expect(changes.withLock { $0 } == [.open])

        do {
            _ = try breaker.acquire(now: t0 + .seconds(4))
            Issue.record("an open breaker let a call through")
        } catch {
            #expect(error.kind == .circuitOpen)
            #expect(error.isRetryable)
            #expect(error.retryAfter == .seconds(6))
        }
        #expect(breaker.rejection(now: t0 + .seconds(4))?.retryAfter == .seconds(6))
    }

    @Test("a success resets the failure streak; rejected answers neither count nor reset")
    func streaks() throws {
        let breaker = CircuitBreaker(configuration: .init(failureThreshold: 3))
        try fail(breaker, times: 2, at: t0)
        let ok = try breaker.acquire(now: t0)
        breaker.record(ok, error: nil, now: t0)
        try fail(breaker, times: 2, at: t0)
        #expect(breaker.state == .closed)
        for _ in 0..<10 {
            let permit = try breaker.acquire(now: t0)
            breaker.record(permit, error: Self.rejected, now: t0)
            let limited = try breaker.acquire(now: t0)
            breaker.record(limited, error: ModelCallError(kind: .rateLimited, message: "429"), now: t0)
        }
        #expect(breaker.state == .closed)
        try fail(breaker, times: 1, at: t0)
        #expect(breaker.state == .open)
    }

    @Test("half-open after the cool-down: one trial; success closes")
    func halfOpenTrialCloses() throws {
        let changes = Locked<[CircuitBreaker.State]>([])
        let breaker = CircuitBreaker(configuration: .init(failureThreshold: 1, coolDown: .seconds(10))) { state in
            changes.withLock { $0.append(state) }
        }
        try fail(breaker, times: 1, at: t0)
        let later = t0 + .seconds(10)
        let trial = try breaker.acquire(now: later)
        #expect(trial.isTrial)
        #expect(breaker.state == .halfOpen)
        // Others fail fast while the trial is out, told to come back soon.
        #expect(throws: ModelCallError.self) { _ = try breaker.acquire(now: later) }
        #expect(breaker.rejection(now: later)?.retryAfter == .seconds(1))
        breaker.record(trial, error: nil, now: later)
        #expect(breaker.state == .closed)
        #expect(try breaker.acquire(now: later).isTrial == false)
        #expect(changes.withLock { $0 } == [.open, .halfOpen, .closed])
    }

    @Test("a failed trial opens the circuit for another cool-down")
    func halfOpenTrialFails() throws {
        let breaker = CircuitBreaker(configuration: .init(failureThreshold: 1, coolDown: .seconds(10)))
        try fail(breaker, times: 1, at: t0)
        let trialTime = t0 + .seconds(11)
        let trial = try breaker.acquire(now: trialTime)
        breaker.record(trial, error: Self.failure, now: trialTime)
        #expect(breaker.state == .open)
        #expect(breaker.rejection(now: trialTime + .seconds(1))?.retryAfter == .seconds(9))
    }

    @Test("a trial that ends neutrally (rejected, cancelled) lets the next caller try")
    func neutralTrial() throws {
        let breaker = CircuitBreaker(configuration: .init(failureThreshold: 1, coolDown: .seconds(1)))
        try fail(breaker, times: 1, at: t0)
        let later = t0 + .seconds(2)
        let trial = try breaker.acquire(now: later)
        breaker.record(trial, error: Self.rejected, now: later)
        #expect(breaker.state == .halfOpen)
        let next = try breaker.acquire(now: later)
        #expect(next.isTrial)
        breaker.record(next, error: nil, now: later)
        #expect(breaker.state == .closed)
    }

    @Test("results of calls started before the circuit opened are ignored")
    func stalePermits() throws {
        let breaker = CircuitBreaker(configuration: .init(failureThreshold: 2, coolDown: .seconds(5)))
        let early = try breaker.acquire(now: t0)
        try fail(breaker, times: 2, at: t0)
        #expect(breaker.state == .open)
        breaker.record(early, error: nil, now: t0)  // a straggler's success does not close it
        #expect(breaker.state == .open)
        let trial = try breaker.acquire(now: t0 + .seconds(5))
        breaker.record(early, error: Self.failure, now: t0 + .seconds(5))  // nor does its failure reopen it
        #expect(breaker.state == .halfOpen)
        breaker.record(trial, error: nil, now: t0 + .seconds(5))
        #expect(breaker.state == .closed)
    }

    @Test("which kinds count is configurable")
    func failureKinds() throws {
        let breaker = CircuitBreaker(configuration: .init(failureThreshold: 2, failureKinds: [.rateLimited]))
        for _ in 0..<5 {
            let permit = try breaker.acquire(now: t0)
            breaker.record(permit, error: Self.failure, now: t0)
        }
        #expect(breaker.state == .closed)
        for _ in 0..<2 {
            let permit = try breaker.acquire(now: t0)
            breaker.record(permit, error: ModelCallError(kind: .rateLimited, message: "429"), now: t0)
        }
        #expect(breaker.state == .open)
    }
}
