/// When and how long to wait before trying a failed model call again (SPEC §7): only
/// ``ModelCallError/isRetryable`` failures, at most ``maxAttempts`` calls in all, exponential backoff
/// with full jitter, and never sooner than the provider asked with `Retry-After`.
///
/// After failed attempt `n` (1-based) the wait is `random(0, min(maxDelay, baseDelay · 2^(n-1)))`
/// ("full jitter": callers that failed together spread out instead of retrying in lock-step), raised
/// to the error's ``ModelCallError/retryAfter`` when that is longer (capped at ``maxRetryAfter``).
/// An open circuit breaker reports its remaining cool-down as `retryAfter`, so a retry waits it out.
///
/// A value type; the jitter source is shared by copies and safe to use from many tasks at once.
public struct RetryPolicy: Sendable {
    /// Calls in all, the first included (at least 1; 1 means no retries). Default 6.
    public var maxAttempts: Int
    /// The backoff ceiling after the first failure; it doubles with each further failure. Default 250 ms.
    public var baseDelay: Duration
    /// The largest backoff ceiling. Default 30 s.
    public var maxDelay: Duration
    /// The longest `Retry-After` honoured; longer requests are shortened to this, so one provider
    /// hint cannot park a batch for an hour. Default 120 s.
    public var maxRetryAfter: Duration
    /// Where the jitter comes from; ``JitterSource/seeded(_:)`` in tests.
    public var jitter: JitterSource

    /// Creates a policy; the defaults suit a remote model API.
    public init(
        maxAttempts: Int = 6,
        baseDelay: Duration = .milliseconds(250),
        maxDelay: Duration = .seconds(30),
        maxRetryAfter: Duration = .seconds(120),
        jitter: JitterSource = .system
    ) {
        precondition(maxAttempts >= 1, "maxAttempts must be at least 1")
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
        self.jitter = jitter
    }

    /// `min(maxDelay, baseDelay · 2^(attempt-1))`: the upper bound of the jittered wait after failed
    /// attempt `attempt` (1-based).
    public func backoffCeiling(afterAttempt attempt: Int) -> Duration {
        let exponent = Double(min(max(attempt - 1, 0), 1000))
        let ceiling = min(maxDelay.inSeconds, baseDelay.inSeconds * Double.pow2(exponent))
        return .seconds(max(ceiling, 0))
    }

    /// A full-jitter backoff after failed attempt `attempt`: uniform in [0, ``backoffCeiling(afterAttempt:)``].
    public func backoff(afterAttempt attempt: Int) -> Duration {
        .seconds(backoffCeiling(afterAttempt: attempt).inSeconds * jitter.next())
    }

    /// How long to wait before the next attempt after attempt `attempt` failed with `error`, or `nil`
    /// to give up (not retryable, or no attempts left).
    public func delay(after error: ModelCallError, attempt: Int) -> Duration? {
        guard error.isRetryable, attempt < maxAttempts else { return nil }
        let backoff = backoff(afterAttempt: attempt)
        guard let retryAfter = error.retryAfter else { return backoff }
        return max(backoff, min(retryAfter, maxRetryAfter))
    }

    /// Runs `operation` until it succeeds, fails for good, or has been tried ``maxAttempts`` times,
    /// sleeping between attempts as ``delay(after:attempt:)`` says.
    ///
    /// - Parameters:
    ///   - operation: One attempt; gets its 1-based number.
    ///   - onRetry: Called before each wait with the failure and the wait (for metrics and logs).
    /// - Returns: The first successful result.
    /// - Throws: The last failure, with ``ModelCallError/attempts`` set to the number of attempts made;
    ///   `.cancelled` (with `attempts`) when the task is cancelled during a wait.
    public func run<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ operation: (_ attempt: Int) async throws(ModelCallError) -> T,
        onRetry: (_ failure: ModelCallError, _ delay: Duration) -> Void = { _, _ in }
    ) async throws(ModelCallError) -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await operation(attempt)
            } catch {
                var failure = error
                failure.attempts = attempt
                guard !Task.isCancelled, let delay = delay(after: failure, attempt: attempt) else { throw failure }
                onRetry(failure, delay)
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    throw ModelCallError(kind: .cancelled, message: "cancelled while waiting to retry after: \(failure.message)", attempts: attempt)
                }
            }
        }
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var inSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}

extension Double {
    /// `2^exponent` for a whole, non-negative exponent (infinity beyond the range of `Double`).
    fileprivate static func pow2(_ exponent: Double) -> Double {
        Double(sign: .plus, exponent: Int(exponent), significand: 1)
    }
}
