public import Metrics

/// The chat-call metrics of SPEC §9, for one provider and model (dimensions `provider`, `model`): the
/// shared ``ModelCallMetrics`` under the prefix `rag_chat` (`rag_chat_calls_total` and
/// `rag_chat_call_duration_seconds` by `outcome`, `rag_chat_retries_total` by `reason`,
/// `rag_chat_circuit_open`, `rag_chat_rate_limit_wait_seconds`, `rag_chat_calls_in_flight`), and:
///
/// | metric | type |
/// |---|---|
/// | `rag_chat_prompt_tokens_total` | counter: prompt tokens of successful completions, as the provider reported them (estimated when it did not) |
/// | `rag_chat_completion_tokens_total` | counter: generated tokens of successful completions, likewise |
/// | `rag_chat_completions_total` | counter: successful completions (one per `complete` call, whatever its attempts) |
///
/// A call's duration runs from sending the request to the end of the stream, so the histogram shows
/// whole-answer latency. Every series is created up front. `Sendable`: the metric objects are thread-safe.
public struct ChatMetrics: Sendable {
    /// The metric name prefix of chat calls.
    public static let prefix = "rag_chat"

    /// The per-call metrics (calls, durations, retries, circuit, rate-limit waits, in flight).
    public let calls: ModelCallMetrics
    private let promptTokens: Counter
    private let completionTokens: Counter
    private let completions: Counter

    /// The `provider` dimension.
    public var provider: String { calls.provider }
    /// The `model` dimension.
    public var model: String { calls.model }

    /// Creates (registers) the metrics.
    /// - Parameter factory: The metrics backend; by default the one bootstrapped in `MetricsSystem`.
    public init(provider: String, model: String, factory: any MetricsFactory = MetricsSystem.factory) {
        calls = ModelCallMetrics(prefix: Self.prefix, provider: provider, model: model, factory: factory)
        let base = ModelCallMetrics.dimensions(provider: provider, model: model)
        promptTokens = Counter(label: "\(Self.prefix)_prompt_tokens_total", dimensions: base, factory: factory)
        completionTokens = Counter(label: "\(Self.prefix)_completion_tokens_total", dimensions: base, factory: factory)
        completions = Counter(label: "\(Self.prefix)_completions_total", dimensions: base, factory: factory)
    }

    /// Counts a successful completion and its tokens.
    public func recordCompletion(_ completion: ChatCompletion) {
        completions.increment()
        promptTokens.increment(by: Int64(max(completion.promptTokens, 0)))
        completionTokens.increment(by: Int64(max(completion.completionTokens, 0)))
    }
}
