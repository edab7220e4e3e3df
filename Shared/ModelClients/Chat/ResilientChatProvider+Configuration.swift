extension ResilientChatProvider {
    /// How hard to try and how gently to call: one value for the four parts.
    public struct Configuration: Sendable {
        /// Attempts, backoff and jitter.
        public var retry: RetryPolicy
        /// When to stop calling a failing provider, and for how long.
        public var circuitBreaker: CircuitBreaker.Configuration
        /// Client-side requests/min and tokens/min (none by default).
        public var rateLimits: ClientRateLimiter.Configuration
        /// Calls to the provider in flight at once; more wait their turn (FIFO). Default 256: an answer
        /// takes seconds and rag-chain keeps hundreds of queries in flight, so the limit is the
        /// provider's capacity, not this process's. Keep the HTTP client's
        /// (``OpenAIChatProvider/Configuration/maxConcurrentRequests``) at least as large.
        public var maxConcurrentCalls: Int
        /// The `provider` dimension of the metrics and the logs; `nil` takes the wrapped provider's
        /// ``ChatProvider/providerName``.
        public var providerName: String?

        /// Creates a configuration; the defaults are those of each part, with no rate limit.
        public init(
            retry: RetryPolicy = RetryPolicy(),
            circuitBreaker: CircuitBreaker.Configuration = CircuitBreaker.Configuration(),
            rateLimits: ClientRateLimiter.Configuration = ClientRateLimiter.Configuration(),
            maxConcurrentCalls: Int = 256,
            providerName: String? = nil
        ) {
            self.retry = retry
            self.circuitBreaker = circuitBreaker
            self.rateLimits = rateLimits
            self.maxConcurrentCalls = maxConcurrentCalls
            self.providerName = providerName
        }
    }
}
