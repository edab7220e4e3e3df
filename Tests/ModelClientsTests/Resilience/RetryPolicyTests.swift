import ModelClients
import Synchronization
import Testing

@Suite("RetryPolicy", .timeLimit(.minutes(1)))
struct RetryPolicyTests {
    private static let unavailable = ModelCallError(kind: .unavailable, message: "503")

    @Test("full jitter stays within [0, min(cap, base·2^n)] and spreads over the range (seeded)")
    func fullJitterBounds() {
        let policy = RetryPolicy(maxAttempts: 20, baseDelay: .milliseconds(100), maxDelay: .seconds(5), jitter: .seeded(7))
        for attempt in 1...12 {
            let ceiling = policy.backoffCeiling(afterAttempt: attempt)
            let expected = min(5.0, 0.1 * Double(1 << (attempt - 1)))
            #expect(abs(ceiling.seconds - expected) < 1e-9, "attempt \(attempt)")
            var samples: [Double] = []
            for _ in 0..<2000 {
                let delay = policy.backoff(afterAttempt: attempt)
                #expect(delay >= .zero && delay <= ceiling)
                samples.append(delay.seconds / expected)
            }
            // Uniform on [0, 1] after scaling: mean ≈ 0.5, and both ends are reached.
            let mean = samples.reduce(0, +) / Double(samples.count)
            #expect(abs(mean - 0.5) < 0.05, "attempt \(attempt): mean \(mean)")
            #expect(samples.min()! < 0.05 && samples.max()! > 0.95)
        }
    }

    @Test("the same seed gives the same delays; another seed does not")
    func seededIsDeterministic() {
        func delays(_ seed: UInt64) -> [Duration] {
            let policy = RetryPolicy(jitter: .seeded(seed))
            return (1...6).map { policy.backoff(afterAttempt: $0) }
        }
        #expect(delays(1) == delays(1))
        #expect(delays(1) != delays(2))
    }

    @Test("huge attempt numbers saturate at the cap instead of overflowing")
    func saturates() {
        let policy = RetryPolicy(baseDelay: .milliseconds(250), maxDelay: .seconds(30))
        #expect(policy.backoffCeiling(afterAttempt: 10_000) == .seconds(30))
        #expect(RetryPolicy(baseDelay: .zero).backoffCeiling(afterAttempt: 5000) == .zero)
    }

    @Test("Retry-After is a floor on the wait, capped at maxRetryAfter")
    func retryAfterIsHonoured() {
        let policy = RetryPolicy(baseDelay: .milliseconds(10), maxDelay: .milliseconds(20), maxRetryAfter: .seconds(60), jitter: .seeded(3))
        let limited = ModelCallError(kind: .rateLimited, message: "429", status: 429, retryAfter: .seconds(2))
        for attempt in 1...5 {
            #expect(policy.delay(after: limited, attempt: attempt) == .seconds(2))
        }
        let greedy = ModelCallError(kind: .rateLimited, message: "429", retryAfter: .seconds(3600))
        #expect(policy.delay(after: greedy, attempt: 1) == .seconds(60))
        // A Retry-After shorter than the backoff does not shorten it.
        let slow = RetryPolicy(baseDelay: .seconds(10), maxDelay: .seconds(10), jitter: JitterSource { 0.5 })
        let short = ModelCallError(kind: .rateLimited, message: "429", retryAfter: .seconds(1))
        #expect(slow.delay(after: short, attempt: 1) == .seconds(5))
    }

    @Test("only retryable errors are retried, and only while attempts remain")
    func retryableOnly() {
        let policy = RetryPolicy(maxAttempts: 3)
        #expect(policy.delay(after: Self.unavailable, attempt: 1) != nil)
        #expect(policy.delay(after: Self.unavailable, attempt: 2) != nil)
        #expect(policy.delay(after: Self.unavailable, attempt: 3) == nil)
        for kind in [ModelCallError.Kind.rejected, .cancelled] {
            #expect(policy.delay(after: ModelCallError(kind: kind, message: ""), attempt: 1) == nil)
        }
        for kind in [ModelCallError.Kind.rateLimited, .unavailable, .timeout, .connection, .malformedResponse, .circuitOpen] {
            #expect(policy.delay(after: ModelCallError(kind: kind, message: ""), attempt: 1) != nil)
        }
    }

    @Test("run: retries to success, reports each retry, and counts attempts on giving up")
    func runLoop() async throws {
        let policy = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(2), jitter: .seeded(1))
        let retries = Locked<[Int]>([])
        let value = try await policy.run { attempt throws(ModelCallError) in
            if attempt < 3 { throw Self.unavailable }
            return attempt
        } onRetry: { failure, _ in
            retries.withLock { $0.append(failure.attempts) }
        }
        #expect(value == 3)
        #expect(retries.withLock { $0 } == [1, 2])

        let calls = Locked(0)
        let error = await EmbeddingTestSupport.embeddingError {
            _ = try await policy.run { _ throws(ModelCallError) -> Int in
                calls.withLock { $0 += 1 }
                throw Self.unavailable
            }
        }
        #expect(error?.kind == .unavailable)
        #expect(error?.attempts == 4)
        #expect(calls.withLock { $0 } == 4)

        calls.withLock { $0 = 0 }
        let rejected = await EmbeddingTestSupport.embeddingError {
            _ = try await policy.run { _ throws(ModelCallError) -> Int in
                calls.withLock { $0 += 1 }
                throw ModelCallError(kind: .rejected, message: "400", status: 400)
            }
        }
        #expect(rejected?.kind == .rejected)
        #expect(rejected?.attempts == 1)
        #expect(calls.withLock { $0 } == 1)
    }

    @Test("run: cancellation during a wait ends it at once with .cancelled")
    func cancellationDuringWait() async throws {
        let policy = RetryPolicy(maxAttempts: 5, baseDelay: .seconds(30), maxDelay: .seconds(30), jitter: JitterSource { 0.99 })
        let task = Task {
            await EmbeddingTestSupport.embeddingError {
                _ = try await policy.run { _ throws(ModelCallError) -> Int in throw Self.unavailable }
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        let start = ContinuousClock.now
        task.cancel()
        let error = await task.value
        #expect(error?.kind == .cancelled)
        #expect(error?.attempts == 1)
        #expect(ContinuousClock.now - start < .seconds(20), "cancellation must end the 30 s wait early")
    }
}

extension Duration {
    /// Fractional seconds, for comparisons in tests.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
