import Synchronization

/// Keeps this client under the provider's request and token limits (SPEC §7: requests/min and
/// tokens/min), by waiting rather than failing: ``acquire(tokens:)`` suspends the caller until its
/// call fits.
///
/// Each limit is a token bucket refilled continuously at `limit / 60 s`, holding at most
/// ``Configuration/burst`` worth of it (at least one request, resp. one token), full at start. A
/// call books its cost at once, even if that leaves the bucket in debt, and waits until the debt is
/// repaid — so callers are served in arrival order, a call larger than the bucket still goes
/// through (after waiting), and the long-run rate never exceeds the limit. A caller cancelled while
/// waiting gives its booking back.
///
/// Tokens are estimated, not counted: ``estimatedTokens(for:)-(String)`` takes UTF-8 bytes / 4,
/// rounded up, at least 1 per text — close to OpenAI's tokenizers for English and on the high side
/// for most other text, which is the safe side for a limit.
///
/// Thread-safe (`Mutex`); share one limiter among everything that calls the same provider account.
public final class ClientRateLimiter: Sendable {
    /// The limits; `nil` (or 0) for none.
    public struct Configuration: Sendable, Hashable {
        /// Calls per minute, or `nil`/0 for no limit.
        public var requestsPerMinute: Int?
        /// Estimated input tokens per minute, or `nil`/0 for no limit.
        public var tokensPerMinute: Int?
        /// How much of the allowance may be spent at once after a quiet spell: the buckets hold
        /// `limit × burst / 60 s`. Default 1 s; `.zero` spaces calls evenly from the start.
        public var burst: Duration

        /// Creates limits; the default limits nothing.
        public init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, burst: Duration = .seconds(1)) {
            self.requestsPerMinute = requestsPerMinute
            self.tokensPerMinute = tokensPerMinute
            self.burst = burst
        }

        /// Whether any limit is set.
        public var limitsAnything: Bool {
            (requestsPerMinute ?? 0) > 0 || (tokensPerMinute ?? 0) > 0
        }
    }

    /// A continuously refilled bucket that may go into debt.
    private struct Bucket {
        let perSecond: Double
        let capacity: Double
        var balance: Double
        var updated: ContinuousClock.Instant

        init?(perMinute: Int?, burst: Duration, now: ContinuousClock.Instant) {
            guard let perMinute, perMinute > 0 else { return nil }
            perSecond = Double(perMinute) / 60
            capacity = max(1, perSecond * burst.inSeconds)
            balance = capacity
            updated = now
        }

        /// Books `cost` and returns the seconds until the balance is back to zero.
        mutating func book(_ cost: Double, now: ContinuousClock.Instant) -> Double {
            if now > updated {
                balance = min(capacity, balance + (now - updated).inSeconds * perSecond)
                updated = now
            }
            balance -= cost
            return balance >= 0 ? 0 : -balance / perSecond
        }

        mutating func refund(_ cost: Double) {
            balance = min(capacity, balance + cost)
        }
    }

    private struct Buckets {
        var requests: Bucket?
        var tokens: Bucket?
    }

    /// The limits in force.
    public let configuration: Configuration
    private let buckets: Mutex<Buckets>

    /// Creates a limiter with full buckets.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        let now = ContinuousClock.now
        buckets = Mutex(Buckets(
            requests: Bucket(perMinute: configuration.requestsPerMinute, burst: configuration.burst, now: now),
            tokens: Bucket(perMinute: configuration.tokensPerMinute, burst: configuration.burst, now: now)
        ))
    }

    /// Creates a limiter with full buckets.
    public convenience init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, burst: Duration = .seconds(1)) {
        self.init(configuration: Configuration(requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute, burst: burst))
    }

    /// Waits until one call costing `tokens` estimated tokens is allowed, then returns how long it
    /// waited (`.zero` when it went straight through).
    /// - Throws: `CancellationError` if the task is cancelled while waiting; the booking is returned.
    @discardableResult
    public func acquire(tokens: Int = 0) async throws(CancellationError) -> Duration {
        let wait = reserve(tokens: tokens)
        guard wait > .zero else { return .zero }
        do {
            try await Task.sleep(for: wait)
        } catch {
            cancelReservation(tokens: tokens)
            throw CancellationError()
        }
        return wait
    }

    /// Books one call costing `tokens` and returns how long the caller must wait before making it —
    /// the non-waiting half of ``acquire(tokens:)``. Undo with ``cancelReservation(tokens:)`` if the
    /// call is not made.
    public func reserve(tokens: Int, now: ContinuousClock.Instant = .now) -> Duration {
        let seconds = buckets.withLock { buckets in
            let requestWait = buckets.requests?.book(1, now: now) ?? 0
            let tokenWait = buckets.tokens?.book(Double(max(tokens, 0)), now: now) ?? 0
            return max(requestWait, tokenWait)
        }
        return seconds > 0 ? .seconds(seconds) : .zero
    }

    /// Gives back a booking made by ``reserve(tokens:now:)`` for a call that was not made.
    public func cancelReservation(tokens: Int) {
        buckets.withLock { buckets in
            buckets.requests?.refund(1)
            buckets.tokens?.refund(Double(max(tokens, 0)))
        }
    }

    /// The estimated tokens of one text: UTF-8 bytes / 4, rounded up, at least 1.
    public static func estimatedTokens(for text: String) -> Int {
        max(1, (text.utf8.count + 3) / 4)
    }

    /// The estimated tokens of a batch: the sum over its texts.
    public static func estimatedTokens(for texts: [String]) -> Int {
        texts.reduce(0) { $0 + estimatedTokens(for: $1) }
    }
}
