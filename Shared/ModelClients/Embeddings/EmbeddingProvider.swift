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

    /// One unit-length vector per text, in the order given. Throws `ModelCallError`.
    func embed(_ texts: [String]) async throws(ModelCallError) -> [[Float]]
}

extension EmbeddingProvider {
    /// `custom`, for providers that do not name themselves.
    public var providerName: String { "custom" }
}
