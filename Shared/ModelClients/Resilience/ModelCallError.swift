/// Why a model call (embeddings or chat) failed, classified for retry decisions (SPEC §8, §11).
public struct ModelCallError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// 429: retry after `retryAfter` (or backoff).
        case rateLimited = "rate_limited"
        /// 5xx: retry with backoff.
        case unavailable
        /// No answer within the timeout: retry with backoff.
        case timeout
        /// Connection refused, reset or lost: retry with backoff.
        case connection
        /// The answer was not a valid response (wrong JSON; for embeddings a wrong count or dimensions): retry.
        case malformedResponse = "malformed_response"
        /// The circuit breaker is open: the provider is failing, calls are not attempted for a while.
        case circuitOpen = "circuit_open"
        /// 4xx other than 429 (e.g. 400 for an input the model refuses): permanent, never retried.
        case rejected
        /// The calling task was cancelled.
        case cancelled
    }

    public var kind: Kind
    public var message: String
    /// HTTP status, when there was a response.
    public var status: Int?
    /// The delay the provider asked for (`Retry-After`).
    public var retryAfter: Duration?
    /// How many calls were made before giving up (set by the retrying wrapper).
    public var attempts: Int

    public init(kind: Kind, message: String, status: Int? = nil, retryAfter: Duration? = nil, attempts: Int = 1) {
        self.kind = kind
        self.message = message
        self.status = status
        self.retryAfter = retryAfter
        self.attempts = attempts
    }

    /// Whether trying again may succeed.
    public var isRetryable: Bool {
        switch kind {
        case .rateLimited, .unavailable, .timeout, .connection, .malformedResponse, .circuitOpen: true
        case .rejected, .cancelled: false
        }
    }

    public var description: String {
        "\(kind.rawValue)\(status.map { " (HTTP \($0))" } ?? ""): \(message)" + (attempts > 1 ? " after \(attempts) attempts" : "")
    }
}
