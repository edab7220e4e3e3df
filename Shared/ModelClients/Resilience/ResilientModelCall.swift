public import Logging

/// How one model call is made safe under faults (SPEC §7, §11) — the algorithm written once for every
/// capability (``ResilientEmbeddingProvider``, ``ResilientChatProvider``): retries with backoff and
/// jitter, a circuit breaker, client-side rate limits and a concurrency limit, all measured in a
/// ``ModelCallMetrics``.
///
/// ``run(estimatedTokens:isolation:logMetadata:_:)`` repeats steps 1–5 (one attempt) as ``retry`` says:
/// 1. fail fast with `.circuitOpen` if the circuit is open (no waiting for limits);
/// 2. wait for the rate limiter (one request, the call's estimated tokens);
/// 3. wait for a concurrency slot (at most ``ConcurrencyLimiter/limit`` calls in flight);
/// 4. take a circuit-breaker permit (`.circuitOpen` if it opened meanwhile, or another call is the
///    half-open trial) and make the call;
/// 5. report the result to the breaker and the metrics.
///
/// Failures that are not retryable (`.rejected`, `.cancelled`) are thrown at once; retryable ones
/// are thrown when the attempts run out. Either way ``ModelCallError/attempts`` says how many
/// attempts were made — refusals by the open circuit included, so a dead provider ends in a bounded
/// time (about attempts × cool-down) and the caller can dead-letter its work.
///
/// Cancelling the calling task ends any wait at once and throws `.cancelled`.
///
/// The parts are public so a worker can read them (e.g. ``circuitBreaker``'s state for readiness).
/// `Sendable`: the parts are thread-safe; share one instance per provider.
public struct ResilientModelCall: Sendable {
    /// Attempts, backoff and jitter.
    public let retry: RetryPolicy
    /// The circuit breaker in front of the provider.
    public let circuitBreaker: CircuitBreaker
    /// The client-side request and token limits.
    public let rateLimiter: ClientRateLimiter
    /// The limit of calls in flight.
    public let concurrencyLimiter: ConcurrencyLimiter
    /// Where calls, retries, waits and the circuit are counted.
    public let metrics: ModelCallMetrics
    private let capability: String
    private let logger: Logger

    /// Creates the parts.
    /// - Parameters:
    ///   - capability: A word for the logs: `embedding`, `chat`.
    ///   - retry: Attempts, backoff and jitter.
    ///   - circuitBreaker: When to stop calling a failing provider, and for how long.
    ///   - rateLimits: Client-side requests/min and tokens/min.
    ///   - maxConcurrentCalls: Calls in flight at once (at least 1); more wait their turn (FIFO).
    ///   - metrics: The metrics to record in; the circuit gauge follows the breaker.
    ///   - logger: Retries at debug level, circuit changes at warning/notice; `provider` is added to
    ///     its metadata.
    public init(
        capability: String,
        retry: RetryPolicy,
        circuitBreaker: CircuitBreaker.Configuration,
        rateLimits: ClientRateLimiter.Configuration,
        maxConcurrentCalls: Int,
        metrics: ModelCallMetrics,
        logger: Logger
    ) {
        precondition(maxConcurrentCalls >= 1, "maxConcurrentCalls must be at least 1")
        var logger = logger
        logger[metadataKey: "provider"] = "\(metrics.provider)"
        let breakerLogger = logger
        let coolDown = circuitBreaker.coolDown
        self.retry = retry
        self.circuitBreaker = CircuitBreaker(configuration: circuitBreaker) { state in
            metrics.recordCircuit(state)
            switch state {
            case .open: breakerLogger.warning("\(capability) circuit opened: calls fail fast", metadata: ["cool_down": "\(coolDown)"])
            case .halfOpen: breakerLogger.notice("\(capability) circuit half-open: trying one call")
            case .closed: breakerLogger.notice("\(capability) circuit closed: the provider answers again")
            }
        }
        self.rateLimiter = ClientRateLimiter(configuration: rateLimits)
        self.concurrencyLimiter = ConcurrencyLimiter(limit: maxConcurrentCalls)
        self.metrics = metrics
        self.capability = capability
        self.logger = logger
    }

    /// Makes `call` under the retry policy, one attempt at a time, as the type's documentation describes.
    ///
    /// - Parameters:
    ///   - estimatedTokens: What one attempt costs against the tokens/min limit.
    ///   - logMetadata: Added to the retry log lines (e.g. how many texts).
    ///   - call: One attempt: gets its 1-based number; a thrown error is the attempt's failure (the breaker
    ///     and the metrics judge it by its kind), a result its success. It runs while the attempt holds a
    ///     concurrency slot and a breaker permit, so its whole duration is measured.
    /// - Returns: The first successful attempt's result.
    /// - Throws: The last failure, with ``ModelCallError/attempts`` set; `.cancelled` when the task is
    ///   cancelled while waiting.
    public func run<T>(
        estimatedTokens: Int,
        isolation: isolated (any Actor)? = #isolation,
        logMetadata: Logger.Metadata = [:],
        _ call: (_ attempt: Int) async throws(ModelCallError) -> T
    ) async throws(ModelCallError) -> T {
        try await retry.run { attempt throws(ModelCallError) in
            try await self.attempt(attempt, tokens: estimatedTokens, call)
        } onRetry: { failure, delay in
            metrics.recordRetry(after: failure)
            var metadata = logMetadata
            metadata["error"] = "\(failure)"
            metadata["attempt"] = "\(failure.attempts)"
            metadata["delay"] = "\(delay)"
            logger.debug("\(capability) call failed, retrying", metadata: metadata)
        }
    }

    /// One attempt: steps 1–5 of the type's documentation.
    private func attempt<T>(
        _ number: Int,
        tokens: Int,
        isolation: isolated (any Actor)? = #isolation,
        _ call: (_ attempt: Int) async throws(ModelCallError) -> T
    ) async throws(ModelCallError) -> T {
        if let refusal = circuitBreaker.rejection() {
            metrics.recordCall(error: refusal, duration: nil)
            throw refusal
        }
        do {
            let waited = try await rateLimiter.acquire(tokens: tokens)
            if waited > .zero { metrics.recordRateLimitWait(waited) }
        } catch {
            throw ModelCallError(kind: .cancelled, message: "cancelled while waiting for the rate limit")
        }
        do {
            try await concurrencyLimiter.acquire()
        } catch {
            throw ModelCallError(kind: .cancelled, message: "cancelled while waiting for a call slot")
        }
        metrics.callStarted()
        defer {
            metrics.callEnded()
            concurrencyLimiter.release()
        }

        let permit: CircuitBreaker.Permit
        do {
            permit = try circuitBreaker.acquire()
        } catch {
            metrics.recordCall(error: error, duration: nil)
            throw error
        }
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let result = try await call(number)
            circuitBreaker.record(permit, error: nil)
            metrics.recordCall(error: nil, duration: clock.now - start)
            return result
        } catch {
            circuitBreaker.record(permit, error: error)
            metrics.recordCall(error: error, duration: clock.now - start)
            throw error
        }
    }
}
