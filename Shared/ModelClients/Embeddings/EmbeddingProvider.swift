/// Turns texts into vectors: the embedded MiniLM model, an OpenAI-compatible HTTP API, or the same API
/// over a Unix socket (a sidecar). The embedder worker depends on this protocol only.
public protocol EmbeddingProvider: Sendable {
    /// The model name stored with each row and part of each chunk id, e.g. `all-MiniLM-L6-v2`.
    var model: String { get }
    /// Length of every vector returned.
    var dimensions: Int { get }
    /// The most texts one `embed` call accepts.
    var maxBatchSize: Int { get }
    /// A short name of the kind of provider, for metrics and logs: `openai`, `minilm`, …
    /// (the `provider` dimension of the `rag_embedding_*` metrics). Defaults to `custom`.
    var providerName: String { get }

    /// One unit-length vector per text, in the order given. Throws `EmbeddingError`.
    func embed(_ texts: [String]) async throws(EmbeddingError) -> [[Float]]
}

extension EmbeddingProvider {
    /// `custom`, for providers that do not name themselves.
    public var providerName: String { "custom" }
}

/// Why an embedding call failed, classified for retry decisions (SPEC §8, §11).
public struct EmbeddingError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// 429: retry after `retryAfter` (or backoff).
        case rateLimited = "rate_limited"
        /// 5xx: retry with backoff.
        case unavailable
        /// No answer within the timeout: retry with backoff.
        case timeout
        /// Connection refused, reset or lost: retry with backoff.
        case connection
        /// The answer was not a valid embeddings response (wrong JSON, count or dimensions): retry.
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
