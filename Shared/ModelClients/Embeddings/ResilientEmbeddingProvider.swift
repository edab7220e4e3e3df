public import Logging
public import Metrics

/// Any ``EmbeddingProvider`` made safe to call under faults (SPEC §7, §11): retries with backoff
/// and jitter, a circuit breaker, client-side rate limits and a concurrency limit, all measured.
/// It is itself an `EmbeddingProvider` (same model, dimensions and batch size), so the worker
/// wraps the provider once and uses it as before.
///
/// One `embed` call is one ``ResilientModelCall/run(estimatedTokens:isolation:logMetadata:_:)``
/// (circuit check → rate limiter → concurrency slot → breaker permit → call → record, retried as
/// ``RetryPolicy`` says), with the batch's estimated tokens as its cost; an attempt also fails with
/// `.malformedResponse` unless the answer has one vector of ``dimensions`` numbers per text.
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
    /// The `rag_embedding_*` metrics.
    public let metrics: EmbeddingMetrics
    /// The retry, breaker, rate and concurrency machinery every attempt goes through.
    public let resilience: ResilientModelCall

    /// The circuit breaker in front of ``wrapped``.
    public var circuitBreaker: CircuitBreaker { resilience.circuitBreaker }
    /// The client-side request and token limits.
    public var rateLimiter: ClientRateLimiter { resilience.rateLimiter }
    /// The limit of calls in flight.
    public var concurrencyLimiter: ConcurrencyLimiter { resilience.concurrencyLimiter }

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
        self.wrapped = provider
        self.configuration = configuration
        self.metrics = metrics
        self.resilience = ResilientModelCall(
            capability: "embedding",
            retry: configuration.retry,
            circuitBreaker: configuration.circuitBreaker,
            rateLimits: configuration.rateLimits,
            maxConcurrentCalls: configuration.maxConcurrentCalls,
            metrics: metrics.calls,
            logger: logger)
    }

    /// One unit-length vector per text, in order, retried as the type's documentation describes.
    public func embed(_ texts: [String]) async throws(ModelCallError) -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        let tokens = ClientRateLimiter.estimatedTokens(for: texts)
        let vectors = try await resilience.run(estimatedTokens: tokens, logMetadata: ["texts": "\(texts.count)"]) { _ throws(ModelCallError) in
            try validate(await wrapped.embed(texts), count: texts.count)
        }
        metrics.recordEmbedded(texts: texts.count, tokens: tokens)
        return vectors
    }

    private func validate(_ vectors: [[Float]], count: Int) throws(ModelCallError) -> [[Float]] {
        guard vectors.count == count else {
            throw ModelCallError(kind: .malformedResponse, message: "\(vectors.count) vectors for \(count) texts")
        }
        if let wrong = vectors.firstIndex(where: { $0.count != dimensions }) {
            throw ModelCallError(
                kind: .malformedResponse, message: "vector \(wrong) has \(vectors[wrong].count) dimensions, expected \(dimensions)")
        }
        return vectors
    }
}
