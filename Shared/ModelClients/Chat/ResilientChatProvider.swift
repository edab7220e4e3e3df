public import Logging
public import Metrics
import Synchronization

/// Any ``ChatProvider`` made safe to call under faults (SPEC §7, §11): retries with exponential backoff
/// and full jitter honouring `Retry-After`, a circuit breaker, client-side requests/min and tokens/min
/// limits and a concurrency limit, all measured in the `rag_chat_*` metrics (``ChatMetrics``). It is
/// itself a `ChatProvider` (same model), so rag-chain wraps the provider once and uses it as before.
///
/// One `complete` call is one ``ResilientModelCall/run(estimatedTokens:isolation:logMetadata:_:)``
/// (circuit check → rate limiter → concurrency slot → breaker permit → call → record, retried as
/// ``RetryPolicy`` says). Its cost against tokens/min is the prompt's estimated tokens plus
/// ``ChatRequest/maxTokens`` when set (providers count the completion allowance too). Timeouts are the
/// wrapped provider's (``OpenAIChatProvider/Configuration/timeout``); a timed-out attempt is retried.
///
/// **Streaming and retries.** `onDelta` sees one attempt's text only, never a mix:
/// - deltas are forwarded from the first attempt that produces any — usually the first attempt; one
///   that failed before sending text (a 429, a refused connection, a hang before the first token)
///   did not stream anything, so the next attempt streams as if it were the first;
/// - once an attempt has failed *after* forwarding deltas, no later attempt is streamed: the caller
///   has seen the start of an answer that will not be finished, and the retry's text may differ. The
///   returned ``ChatCompletion/text`` is then the whole text of the attempt that succeeded, and the
///   deltas seen are not a prefix of it in general. A caller that streams to users should compare
///   what it forwarded with the returned text and, when they differ, replace what it showed.
///
/// Failures that are not retryable (`.rejected`, `.cancelled`) are thrown at once; retryable ones when
/// the attempts run out, with ``ModelCallError/attempts`` set (refusals by the open circuit included,
/// so a dead provider ends in about attempts × cool-down and the query can be dead-lettered).
/// Cancelling the calling task ends any wait or call at once and throws `.cancelled`.
///
/// The parts are public so the worker can read them (e.g. ``circuitBreaker``'s state for readiness).
/// `Sendable`: the parts are thread-safe; share one instance per provider.
public struct ResilientChatProvider: ChatProvider {
    /// The provider doing the work.
    public let wrapped: any ChatProvider
    /// The settings the parts were made from.
    public let configuration: Configuration
    /// The `rag_chat_*` metrics.
    public let metrics: ChatMetrics
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
    /// ``Configuration/providerName``, else the wrapped provider's name.
    public var providerName: String { metrics.provider }

    /// Wraps `provider`.
    /// - Parameters:
    ///   - provider: The provider to call.
    ///   - configuration: Retry, breaker, rate and concurrency settings.
    ///   - metricsFactory: The metrics backend (default: the bootstrapped `MetricsSystem`).
    ///   - logger: Retries are logged at debug level, circuit changes at warning/notice.
    public init(
        wrapping provider: any ChatProvider,
        configuration: Configuration = Configuration(),
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger = Logger(label: "rag.model-clients.chat")
    ) {
        precondition(configuration.maxConcurrentCalls >= 1, "maxConcurrentCalls must be at least 1")
        let metrics = ChatMetrics(provider: configuration.providerName ?? provider.providerName, model: provider.model, factory: metricsFactory)
        self.wrapped = provider
        self.configuration = configuration
        self.metrics = metrics
        self.resilience = ResilientModelCall(
            capability: "chat",
            retry: configuration.retry,
            circuitBreaker: configuration.circuitBreaker,
            rateLimits: configuration.rateLimits,
            maxConcurrentCalls: configuration.maxConcurrentCalls,
            metrics: metrics.calls,
            logger: logger)
    }

    /// The estimated cost of `request` against the tokens/min limit: its messages' estimated tokens plus
    /// its `maxTokens`.
    public static func estimatedTokens(for request: ChatRequest) -> Int {
        ClientRateLimiter.estimatedTokens(for: request.messages.map(\.content)) + max(request.maxTokens ?? 0, 0)
    }

    /// One completion, retried, streamed as the type's documentation describes.
    public func complete(
        _ request: ChatRequest, onDelta: @escaping @Sendable (String) async -> Void
    ) async throws(ModelCallError) -> ChatCompletion {
        let relay = DeltaRelay(onDelta)
        let completion = try await resilience.run(
            estimatedTokens: Self.estimatedTokens(for: request), logMetadata: ["messages": "\(request.messages.count)"]
        ) { _ throws(ModelCallError) in
            let attempt = relay.startAttempt()
            do throws(ModelCallError) {
                return try await wrapped.complete(request) { delta in await relay.forward(delta, from: attempt) }
            } catch {
                relay.attemptFailed(attempt)
                throw error
            }
        }
        metrics.recordCompletion(completion)
        return completion
    }
}

/// Decides which attempt's deltas reach the caller: the rule of ``ResilientChatProvider``'s "Streaming
/// and retries". Attempts run one after another; the lock only makes the state `Sendable` for the
/// `@Sendable` delta closures.
private final class DeltaRelay: Sendable {
    private struct State {
        /// The attempt being made.
        var current = 0
        /// Whether ``current`` has forwarded a delta.
        var currentForwarded = false
        /// An attempt failed after forwarding: nothing more is forwarded.
        var closed = false
    }

    private let onDelta: @Sendable (String) async -> Void
    private let state = Mutex(State())

    init(_ onDelta: @escaping @Sendable (String) async -> Void) {
        self.onDelta = onDelta
    }

    /// Begins an attempt and returns its number.
    func startAttempt() -> Int {
        state.withLock { state in
            state.current += 1
            state.currentForwarded = false
            return state.current
        }
    }

    /// Passes `delta` on if `attempt` is still the streaming one.
    func forward(_ delta: String, from attempt: Int) async {
        let forwards = state.withLock { state in
            guard !state.closed, attempt == state.current else { return false }
            state.currentForwarded = true
            return true
        }
        if forwards { await onDelta(delta) }
    }

    /// Ends `attempt` as failed: if it forwarded deltas, later attempts are not streamed.
    func attemptFailed(_ attempt: Int) {
        state.withLock { state in
            if attempt == state.current && state.currentForwarded { state.closed = true }
        }
    }
}
