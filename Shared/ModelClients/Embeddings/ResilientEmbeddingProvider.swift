public import Logging
public import Metrics

/// Any ``EmbeddingProvider`` made safe to call under faults (SPEC §7, §11): retries with backoff
/// and jitter, a circuit breaker, client-side rate limits and a concurrency limit, all measured.
/// It is itself an `EmbeddingProvider` (same model, dimensions and batch size), so the worker
/// wraps the provider once and uses it as before.
///
/// One `embed` call goes like this; steps 1–5 are one attempt, repeated as ``RetryPolicy`` says:
/// 1. fail fast with `.circuitOpen` if the circuit is open (no waiting for limits);
/// 2. wait for the rate limiter (one request, the batch's estimated tokens);
/// 3. wait for a concurrency slot (at most ``Configuration/maxConcurrentCalls`` calls in flight);
/// 4. take a circuit-breaker permit (`.circuitOpen` if it opened meanwhile, or another call is the
///    half-open trial) and call the wrapped provider;
/// 5. report the result to the breaker and the metrics; check the answer has one vector of
///    ``dimensions`` numbers per text (else `.malformedResponse`).
///
/// Failures that are not retryable (`.rejected`, `.cancelled`) are thrown at once; retryable ones
/// are thrown when the attempts run out. Either way ``ModelCallError/attempts`` says how many
/// attempts were made — refusals by the open circuit included, so a dead provider ends in a bounded
/// time (about attempts × cool-down) and the caller can dead-letter the batch.
///
/// Cancelling the calling task ends any wait at once and throws `.cancelled`.
///
/// The parts are public so the worker can read them (e.g. ``circuitBreaker``'s state for readiness).
/// `Sendable`: the parts are thread-safe; share one instance per provider.
public struct ResilientEmbeddingProvider: EmbeddingProvider {
    /// The provider doing the work.
    public let wrapped: any EmbeddingProvider
    /// The settings the parts were made from.
    public let configuration: Configuration
    /// The circuit breaker in front of ``wrapped``.
    public let circuitBreaker: CircuitBreaker
    /// The client-side request and token limits.
    public let rateLimiter: ClientRateLimiter
    /// The limit of calls in flight.
    public let concurrencyLimiter: ConcurrencyLimiter
    /// The `rag_embedding_*` metrics.
    public let metrics: EmbeddingMetrics
    private let logger: Logger

    /// The wrapped provider's model.
    public var model: String { wrapped.model }
    /// The wrapped provider's dimensions.
    public var dimensions: Int { wrapped.dimensions }
    /// The wrapped provider's batch limit.
    public var maxBatchSize: Int { wrapped.maxBatchSize }
    /// ``Configuration/providerName``, else the wrapped provider's name.
    public var providerName: String { metrics.provider }

    /// Wraps `provider`.
    /// - Parameters:
    ///   - provider: The provider to call.
    ///   - configuration: Retry, breaker, rate and concurrency settings.
    ///   - metricsFactory: The metrics backend (default: the bootstrapped `MetricsSystem`).
    ///   - logger: Retries are logged at debug level, circuit changes at warning/notice.
    public init(
        wrapping provider: any EmbeddingProvider,
        configuration: Configuration = Configuration(),
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger = Logger(label: "rag.model-clients.embeddings")
    ) {
        precondition(configuration.maxConcurrentCalls >= 1, "maxConcurrentCalls must be at least 1")
        let name = configuration.providerName ?? provider.providerName
        let metrics = EmbeddingMetrics(provider: name, model: provider.model, factory: metricsFactory)
        var breakerLogger = logger
        breakerLogger[metadataKey: "provider"] = "\(name)"
        let coolDown = configuration.circuitBreaker.coolDown
        self.wrapped = provider
        self.configuration = configuration
        self.metrics = metrics
        self.circuitBreaker = CircuitBreaker(configuration: configuration.circuitBreaker) { [breakerLogger] state in
            metrics.recordCircuit(state)
            switch state {
            case .open: breakerLogger.warning("embedding circuit opened: calls fail fast", metadata: ["cool_down": "\(coolDown)"])
            case .halfOpen: breakerLogger.notice("embedding circuit half-open: trying one call")
            case .closed: breakerLogger.notice("embedding circuit closed: the provider answers again")
            }
        }
        self.rateLimiter = ClientRateLimiter(configuration: configuration.rateLimits)
        self.concurrencyLimiter = ConcurrencyLimiter(limit: configuration.maxConcurrentCalls)
        self.logger = breakerLogger
    }

    /// One unit-length vector per text, in order, retried as the type's documentation describes.
    public func embed(_ texts: [String]) async throws(ModelCallError) -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        let tokens = ClientRateLimiter.estimatedTokens(for: texts)
        return try await configuration.retry.run { _ throws(ModelCallError) in
            try await self.attempt(texts, tokens: tokens)
        } onRetry: { failure, delay in
            metrics.recordRetry(after: failure)
            logger.debug(
                "embedding call failed, retrying",
                metadata: ["error": "\(failure)", "attempt": "\(failure.attempts)", "delay": "\(delay)", "texts": "\(texts.count)"])
        }
    }

    /// One attempt: steps 1–5 of the type's documentation.
    private func attempt(_ texts: [String], tokens: Int) async throws(ModelCallError) -> [[Float]] {
        if let refusal = circuitBreaker.rejection() {
            metrics.recordCall(error: refusal, duration: nil)
            throw refusal
        }
        do {
            let waited = try await rateLimiter.acquire(tokens: tokens)
            if waited > .zero { metrics.recordRateLimitWait(waited) }
            try await concurrencyLimiter.acquire()
        } catch {
            throw ModelCallError(kind: .cancelled, message: "cancelled while waiting for the rate limit or a call slot")
        }
        metrics.recordInFlight(concurrencyLimiter.inFlight)
        defer {
            concurrencyLimiter.release()
            metrics.recordInFlight(concurrencyLimiter.inFlight)
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
        let result: Result<[[Float]], ModelCallError>
        do {
            result = .success(try await wrapped.embed(texts))
        } catch {
            result = .failure(error)
        }
        let duration = clock.now - start
        let checked = result.flatMap { vectors in validate(vectors, count: texts.count) }
        switch checked {
        case .success(let vectors):
            circuitBreaker.record(permit, error: nil)
            metrics.recordCall(error: nil, duration: duration)
            metrics.recordEmbedded(texts: texts.count, tokens: tokens)
            return vectors
        case .failure(let error):
            circuitBreaker.record(permit, error: error)
            metrics.recordCall(error: error, duration: duration)
            throw error
        }
    }

    private func validate(_ vectors: [[Float]], count: Int) -> Result<[[Float]], ModelCallError> {
        guard vectors.count == count else {
            return .failure(ModelCallError(kind: .malformedResponse, message: "\(vectors.count) vectors for \(count) texts"))
        }
        if let wrong = vectors.firstIndex(where: { $0.count != dimensions }) {
            return .failure(ModelCallError(
                kind: .malformedResponse, message: "vector \(wrong) has \(vectors[wrong].count) dimensions, expected \(dimensions)"))
        }
        return .success(vectors)
    }
}
