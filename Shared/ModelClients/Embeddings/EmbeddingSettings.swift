public import Logging
import MiniLM
public import WorkerRuntime

/// The embedding provider a worker uses, read from the `RAG_EMBEDDING_*` variables — one set for every
/// worker that embeds (the embedder for chunks, rag-chain for questions), so both compute vectors of the
/// same model and a question lands in the same space as the chunks.
public struct EmbeddingSettings: Sendable {
    public enum Provider: String, Sendable, CaseIterable {
        /// all-MiniLM-L6-v2 in this process (no network).
        case minilm
        /// An OpenAI-compatible `/v1/embeddings` API over HTTP, or over a Unix socket (a sidecar).
        case openai
    }

    public var provider: Provider
    public var model: String
    public var baseURL: String
    public var apiKey: String
    public var unixSocket: String
    public var batchSize: Int
    public var concurrency: Int
    public var requestsPerMinute: Int
    public var tokensPerMinute: Int
    public var timeout: Duration
    public var maxAttempts: Int
    public var minilmThreads: Int
    public var minilmModelDirectory: String

    /// Reads the `RAG_EMBEDDING_*` variables, `RAG_MINILM_THREADS` and `RAG_MINILM_MODEL_DIR`, reporting invalid ones to `reader`.
    public init(reading reader: inout ConfigurationReader) {
        provider = reader.read(.oneOf("RAG_EMBEDDING_PROVIDER", options: ["minilm": .minilm, "openai": .openai], default: "minilm",
                                      summary: "minilm (in-process, no network) or openai (an OpenAI-compatible API)."))
        model = reader.read(.string("RAG_EMBEDDING_MODEL", default: "all-MiniLM-L6-v2",
                                    summary: "Model name: stored with each row and part of its chunk id; sent to the provider."))
        baseURL = reader.read(.string("RAG_EMBEDDING_BASE_URL", default: "",
                                      summary: "Base URL of the OpenAI-compatible API (provider openai), e.g. http://127.0.0.1:11434."))
        apiKey = reader.read(.string("RAG_EMBEDDING_API_KEY", default: "", summary: "Bearer token for the provider, if it needs one.",
                                     redaction: .secret))
        unixSocket = reader.read(.string("RAG_EMBEDDING_UNIX_SOCKET", default: "",
                                         summary: "Talk to the provider over this Unix socket (a sidecar) instead of TCP."))
        batchSize = reader.read(.integer("RAG_EMBEDDING_BATCH_SIZE", default: 32, range: 1 ... 2048, summary: "Texts per model call."))
        concurrency = reader.read(.integer("RAG_EMBEDDING_CONCURRENCY", default: 4, range: 1 ... 256, summary: "Model calls in flight at once."))
        requestsPerMinute = reader.read(.integer("RAG_EMBEDDING_REQUESTS_PER_MINUTE", default: 0, range: 0 ... 10_000_000,
                                                 summary: "Client-side limit of model calls per minute (0: none)."))
        tokensPerMinute = reader.read(.integer("RAG_EMBEDDING_TOKENS_PER_MINUTE", default: 0, range: 0 ... 1_000_000_000,
                                               summary: "Client-side limit of input tokens per minute (0: none)."))
        timeout = reader.read(.duration("RAG_EMBEDDING_TIMEOUT", default: .seconds(30), range: .milliseconds(100) ... .seconds(600),
                                        summary: "Timeout of one model call."))
        maxAttempts = reader.read(.integer("RAG_EMBEDDING_MAX_ATTEMPTS", default: 8, range: 1 ... 100,
                                           summary: "Calls per batch before its texts fail (429, 5xx, timeouts are retried)."))
        minilmThreads = reader.read(.integer("RAG_MINILM_THREADS", default: 2, range: 1 ... 64, summary: "Threads of the in-process model."))
        minilmModelDirectory = reader.read(.string(MiniLMEmbedder.modelDirectoryEnvironmentKey, default: MiniLMEmbedder.defaultModelDirectory,
                                                   summary: "Directory of the in-process model's files (provider minilm), relative to the working directory unless absolute."))
        if provider == .openai && baseURL.isEmpty {
            reader.report(.init(variable: "RAG_EMBEDDING_BASE_URL", issue: "is required when RAG_EMBEDDING_PROVIDER=openai",
                                expectation: "a URL such as http://127.0.0.1:8000"))
        }
    }

    /// The selected provider, wrapped with retries, circuit breaker, rate and concurrency limits.
    /// - Throws: `EmbeddingProviderMismatch` when its model name or vector width does not fit
    ///   `dimensions` (the width of the vector column) and `model`; errors of the provider's set-up.
    public func makeProvider(dimensions: Int, logger: Logger) throws -> any EmbeddingProvider {
        let provider: any EmbeddingProvider
        switch self.provider {
        case .minilm:
            provider = try MiniLMEmbeddingProvider(modelDirectory: minilmModelDirectory, threads: minilmThreads, maxBatchSize: batchSize)
        case .openai:
            provider = try OpenAIEmbeddingProvider(
                configuration: .init(
                    baseURL: baseURL, model: model, dimensions: dimensions, apiKey: apiKey.isEmpty ? nil : apiKey, timeout: timeout,
                    unixSocketPath: unixSocket.isEmpty ? nil : unixSocket, maxBatchSize: batchSize, maxConcurrentRequests: concurrency),
                logger: logger)
        }
        guard provider.model == model else {
            throw EmbeddingProviderMismatch(problem: "RAG_EMBEDDING_MODEL is \(model), but the \(provider.providerName) provider computes \(provider.model)")
        }
        guard provider.dimensions == dimensions else {
            throw EmbeddingProviderMismatch(problem: "\(provider.model) has \(provider.dimensions) dimensions; the vector store holds \(dimensions)")
        }
        let resilience = ResilientEmbeddingProvider.Configuration(
            retry: RetryPolicy(maxAttempts: maxAttempts),
            rateLimits: .init(requestsPerMinute: requestsPerMinute == 0 ? nil : requestsPerMinute,
                              tokensPerMinute: tokensPerMinute == 0 ? nil : tokensPerMinute),
            maxConcurrentCalls: concurrency)
        return ResilientEmbeddingProvider(wrapping: provider, configuration: resilience, logger: logger)
    }
}

/// The configured provider cannot fill the vector store as configured.
public struct EmbeddingProviderMismatch: Error, CustomStringConvertible {
    public var problem: String
    public var description: String { "embedding provider mismatch: \(problem)" }
}
