public import Metrics
import Synchronization

/// The model-call metrics of SPEC §9 shared by every capability, for one provider and model (dimensions
/// `provider`, `model`), under a name prefix: `rag_embedding` for ``EmbeddingMetrics``, `rag_chat` for
/// ``ChatMetrics``.
///
/// | metric | type | extra dimension |
/// |---|---|---|
/// | `<prefix>_calls_total` | counter: calls to the provider, or refused by the open circuit | `outcome`: `success`, `rate_limited`, `unavailable`, `timeout`, `connection`, `malformed_response`, `rejected`, `circuit_open`, `cancelled` |
/// | `<prefix>_call_duration_seconds` | timer (histogram) of calls made | `outcome` |
/// | `<prefix>_retries_total` | counter: retries scheduled | `reason`: the failure's kind, as `outcome` |
/// | `<prefix>_circuit_open` | gauge: 1 while the circuit is open or half-open, else 0 | |
/// | `<prefix>_rate_limit_wait_seconds` | timer: time spent waiting for the client-side rate limit (only waits > 0) | |
/// | `<prefix>_calls_in_flight` | gauge: calls holding a concurrency slot | |
///
/// The capability's own counters (tokens, texts) live in the type that embeds this one. Every series is
/// created up front (so dashboards see zeros, not gaps). `Sendable`: the metric objects are thread-safe.
public struct ModelCallMetrics: Sendable {
    /// The metric name prefix, e.g. `rag_chat`.
    public let prefix: String
    /// The `provider` dimension.
    public let provider: String
    /// The `model` dimension.
    public let model: String

    private let calls: [String: Counter]
    private let durations: [String: Metrics.Timer]
    private let retries: [String: Counter]
    private let circuitOpen: Gauge
    private let rateLimitWaits: Metrics.Timer
    private let inFlight: Gauge
    /// Calls between ``callStarted()`` and ``callEnded()``; the gauge is set under this lock, so
    /// concurrent updates cannot leave it at a stale value.
    private let inFlightCount = InFlightCount()

    /// The outcome label of a successful call.
    public static let successOutcome = "success"
    /// Every `outcome` value: `success` and each ``ModelCallError/Kind`` raw value.
    public static let outcomes: [String] = [successOutcome] + [
        ModelCallError.Kind.rateLimited, .unavailable, .timeout, .connection, .malformedResponse, .rejected, .circuitOpen, .cancelled,
    ].map(\.rawValue)

    /// Creates (registers) the metrics.
    /// - Parameters:
    ///   - prefix: The start of every metric name, without the trailing underscore (`rag_chat`).
    ///   - factory: The metrics backend; by default the one bootstrapped in `MetricsSystem`.
    public init(prefix: String, provider: String, model: String, factory: any MetricsFactory = MetricsSystem.factory) {
        self.prefix = prefix
        self.provider = provider
        self.model = model
        let base = Self.dimensions(provider: provider, model: model)
        var calls: [String: Counter] = [:]
        var durations: [String: Metrics.Timer] = [:]
        var retries: [String: Counter] = [:]
        for outcome in Self.outcomes {
            calls[outcome] = Counter(label: "\(prefix)_calls_total", dimensions: base + [("outcome", outcome)], factory: factory)
            durations[outcome] = Metrics.Timer(
                label: "\(prefix)_call_duration_seconds", dimensions: base + [("outcome", outcome)],
                preferredDisplayUnit: .seconds, factory: factory)
            if outcome != Self.successOutcome {
                retries[outcome] = Counter(label: "\(prefix)_retries_total", dimensions: base + [("reason", outcome)], factory: factory)
            }
        }
        self.calls = calls
        self.durations = durations
        self.retries = retries
        circuitOpen = Gauge(label: "\(prefix)_circuit_open", dimensions: base, factory: factory)
        circuitOpen.record(0)
        rateLimitWaits = Metrics.Timer(label: "\(prefix)_rate_limit_wait_seconds", dimensions: base, preferredDisplayUnit: .seconds, factory: factory)
        inFlight = Gauge(label: "\(prefix)_calls_in_flight", dimensions: base, factory: factory)
        inFlight.record(0)
    }

    /// The `provider` and `model` dimensions every series carries, for the capability's own metrics.
    public static func dimensions(provider: String, model: String) -> [(String, String)] {
        [("provider", provider), ("model", model)]
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

    /// Counts a call as in flight (it holds a concurrency slot) and updates the gauge.
    public func callStarted() {
        inFlightCount.add(1, recordingIn: inFlight)
    }

    /// Counts a call started with ``callStarted()`` as ended and updates the gauge.
    public func callEnded() {
        inFlightCount.add(-1, recordingIn: inFlight)
    }
}

/// A counter whose every change is recorded in a gauge while the lock is held.
private final class InFlightCount: Sendable {
    private let count = Mutex(0)

    func add(_ change: Int, recordingIn gauge: Gauge) {
        count.withLock { count in
            count += change
            gauge.record(count)
        }
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
