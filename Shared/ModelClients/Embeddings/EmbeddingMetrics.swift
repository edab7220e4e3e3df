public import Metrics

/// The embedding-call metrics of SPEC §9, for one provider and model (dimensions `provider`, `model`):
///
/// | metric | type | extra dimension |
/// |---|---|---|
/// | `rag_embedding_calls_total` | counter: calls to the provider, or refused by the open circuit | `outcome`: `success`, `rate_limited`, `unavailable`, `timeout`, `connection`, `malformed_response`, `rejected`, `circuit_open`, `cancelled` |
/// | `rag_embedding_call_duration_seconds` | timer (histogram) of calls made | `outcome` |
/// | `rag_embedding_retries_total` | counter: retries scheduled | `reason`: the failure's kind, as `outcome` |
/// | `rag_embedding_circuit_open` | gauge: 1 while the circuit is open or half-open, else 0 | |
/// | `rag_embedding_rate_limit_wait_seconds` | timer: time spent waiting for the client-side rate limit (only waits > 0) | |
/// | `rag_embedding_tokens_total` | counter: estimated input tokens of successful calls (see ``ClientRateLimiter``) | |
/// | `rag_embedding_texts_total` | counter: texts embedded by successful calls | |
/// | `rag_embedding_calls_in_flight` | gauge: calls holding a concurrency slot | |
///
/// Every series is created up front (so dashboards see zeros, not gaps). `Sendable`: the metric
/// objects are thread-safe.
public struct EmbeddingMetrics: Sendable {
    /// The `provider` dimension.
    public let provider: String
    /// The `model` dimension.
    public let model: String

    private let calls: [String: Counter]
    private let durations: [String: Metrics.Timer]
    private let retries: [String: Counter]
    private let circuitOpen: Gauge
    private let rateLimitWaits: Metrics.Timer
    private let tokens: Counter
    private let texts: Counter
    private let inFlight: Gauge
    private let factory: any MetricsFactory

    /// The outcome label of a successful call.
    public static let successOutcome = "success"
    /// Every `outcome` value: `success` and each ``ModelCallError/Kind`` raw value.
    public static let outcomes: [String] = [successOutcome] + [
        ModelCallError.Kind.rateLimited, .unavailable, .timeout, .connection, .malformedResponse, .rejected, .circuitOpen, .cancelled,
    ].map(\.rawValue)

    /// Creates (registers) the metrics.
    /// - Parameter factory: The metrics backend; by default the one bootstrapped in `MetricsSystem`.
    public init(provider: String, model: String, factory: any MetricsFactory = MetricsSystem.factory) {
        self.provider = provider
        self.model = model
        self.factory = factory
        let base = [("provider", provider), ("model", model)]
        var calls: [String: Counter] = [:]
        var durations: [String: Metrics.Timer] = [:]
        var retries: [String: Counter] = [:]
        for outcome in Self.outcomes {
            calls[outcome] = Counter(label: "rag_embedding_calls_total", dimensions: base + [("outcome", outcome)], factory: factory)
            durations[outcome] = Metrics.Timer(
                label: "rag_embedding_call_duration_seconds", dimensions: base + [("outcome", outcome)],
                preferredDisplayUnit: .seconds, factory: factory)
            if outcome != Self.successOutcome {
                retries[outcome] = Counter(label: "rag_embedding_retries_total", dimensions: base + [("reason", outcome)], factory: factory)
            }
        }
        self.calls = calls
        self.durations = durations
        self.retries = retries
        circuitOpen = Gauge(label: "rag_embedding_circuit_open", dimensions: base, factory: factory)
        circuitOpen.record(0)
        rateLimitWaits = Metrics.Timer(label: "rag_embedding_rate_limit_wait_seconds", dimensions: base, preferredDisplayUnit: .seconds, factory: factory)
        tokens = Counter(label: "rag_embedding_tokens_total", dimensions: base, factory: factory)
        texts = Counter(label: "rag_embedding_texts_total", dimensions: base, factory: factory)
        inFlight = Gauge(label: "rag_embedding_calls_in_flight", dimensions: base, factory: factory)
        inFlight.record(0)
    }

    /// The `outcome` label for a call that ended with `error` (`nil`: success).
    public static func outcome(of error: ModelCallError?) -> String {
        error?.kind.rawValue ?? successOutcome
    }

    /// Counts a call and, when it reached the provider, its duration.
    public func recordCall(error: ModelCallError?, duration: Duration?) {
        let outcome = Self.outcome(of: error)
        calls[outcome]?.increment()
        if let duration { durations[outcome]?.recordNanoseconds(duration.nanosecondsClamped) }
    }

    /// Counts the texts and estimated tokens of a successful call.
    public func recordEmbedded(texts count: Int, tokens estimated: Int) {
        texts.increment(by: Int64(count))
        tokens.increment(by: Int64(estimated))
    }

    /// Counts a retry caused by `error`.
    public func recordRetry(after error: ModelCallError) {
        retries[error.kind.rawValue]?.increment()
    }

    /// Sets the circuit gauge from the breaker's state.
    public func recordCircuit(_ state: CircuitBreaker.State) {
        circuitOpen.record(state == .closed ? 0 : 1)
    }

    /// Records a wait for the client-side rate limit.
    public func recordRateLimitWait(_ wait: Duration) {
        rateLimitWaits.recordNanoseconds(wait.nanosecondsClamped)
    }

    /// Sets the in-flight gauge.
    public func recordInFlight(_ count: Int) {
        inFlight.record(count)
    }
}

extension Duration {
    /// Whole nanoseconds, saturating at `Int64.max`.
    var nanosecondsClamped: Int64 {
        let parts = components
        let (fromSeconds, overflow) = parts.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return parts.seconds < 0 ? .min : .max }
        return fromSeconds.addingReportingOverflow(parts.attoseconds / 1_000_000_000).overflow ? .max : fromSeconds + parts.attoseconds / 1_000_000_000
    }
}
