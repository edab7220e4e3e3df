public import Metrics

/// The embedding-call metrics of SPEC §9, for one provider and model (dimensions `provider`, `model`):
/// the shared ``ModelCallMetrics`` under the prefix `rag_embedding` (`rag_embedding_calls_total`,
/// `rag_embedding_call_duration_seconds`, `rag_embedding_retries_total`, `rag_embedding_circuit_open`,
/// `rag_embedding_rate_limit_wait_seconds`, `rag_embedding_calls_in_flight`), and two of its own:
///
/// | metric | type |
/// |---|---|
/// | `rag_embedding_tokens_total` | counter: estimated input tokens of successful calls (see ``ClientRateLimiter``) |
/// | `rag_embedding_texts_total` | counter: texts embedded by successful calls |
///
/// Every series is created up front (so dashboards see zeros, not gaps). `Sendable`: the metric
/// objects are thread-safe.
public struct EmbeddingMetrics: Sendable {
    /// The metric name prefix of embedding calls.
    public static let prefix = "rag_embedding"

    /// The per-call metrics (calls, durations, retries, circuit, rate-limit waits, in flight).
    public let calls: ModelCallMetrics
    private let tokens: Counter
    private let texts: Counter

    /// The `provider` dimension.
    public var provider: String { calls.provider }
    /// The `model` dimension.
    public var model: String { calls.model }

    /// The outcome label of a successful call.
    public static let successOutcome = ModelCallMetrics.successOutcome
    /// Every `outcome` value: `success` and each ``ModelCallError/Kind`` raw value.
    public static let outcomes: [String] = ModelCallMetrics.outcomes

    /// Creates (registers) the metrics.
    /// - Parameter factory: The metrics backend; by default the one bootstrapped in `MetricsSystem`.
    public init(provider: String, model: String, factory: any MetricsFactory = MetricsSystem.factory) {
        calls = ModelCallMetrics(prefix: Self.prefix, provider: provider, model: model, factory: factory)
        let base = ModelCallMetrics.dimensions(provider: provider, model: model)
        tokens = Counter(label: "\(Self.prefix)_tokens_total", dimensions: base, factory: factory)
        texts = Counter(label: "\(Self.prefix)_texts_total", dimensions: base, factory: factory)
    }

    /// The `outcome` label for a call that ended with `error` (`nil`: success).
    public static func outcome(of error: ModelCallError?) -> String {
        ModelCallMetrics.outcome(of: error)
    }

    /// Counts a call and, when it reached the provider, its duration.
    public func recordCall(error: ModelCallError?, duration: Duration?) {
        calls.recordCall(error: error, duration: duration)
    }

    /// Counts the texts and estimated tokens of a successful call.
    public func recordEmbedded(texts count: Int, tokens estimated: Int) {
        texts.increment(by: Int64(count))
        tokens.increment(by: Int64(estimated))
    }

    /// Counts a retry caused by `error`.
    public func recordRetry(after error: ModelCallError) {
        calls.recordRetry(after: error)
    }

    /// Sets the circuit gauge from the breaker's state.
    public func recordCircuit(_ state: CircuitBreaker.State) {
        calls.recordCircuit(state)
    }

    /// Records a wait for the client-side rate limit.
    public func recordRateLimitWait(_ wait: Duration) {
        calls.recordRateLimitWait(wait)
    }

    /// Sets the in-flight gauge.
    public func recordInFlight(_ count: Int) {
        calls.recordInFlight(count)
    }
}
