import Logging
import ModelClients

/// The provider selected by `RAG_EMBEDDING_PROVIDER`, wrapped with retries, circuit breaker, rate and
/// concurrency limits. Its vectors must fit `chunks.embedding`.
func makeEmbeddingProvider(_ configuration: EmbedderConfiguration, logger: Logger) throws -> any EmbeddingProvider {
    let provider: any EmbeddingProvider
    switch configuration.provider {
    case .minilm:
        provider = try MiniLMEmbeddingProvider(threads: configuration.minilmThreads, maxBatchSize: configuration.batchSize)
    case .openai:
        provider = try OpenAIEmbeddingProvider(
            configuration: .init(
                baseURL: configuration.baseURL, model: configuration.model, dimensions: ChunkStore.dimensions,
                apiKey: configuration.apiKey.isEmpty ? nil : configuration.apiKey, timeout: configuration.timeout,
                unixSocketPath: configuration.unixSocket.isEmpty ? nil : configuration.unixSocket,
                maxBatchSize: configuration.batchSize, maxConcurrentRequests: configuration.concurrency),
            logger: logger)
    }
    guard provider.model == configuration.model else {
        throw ProviderMismatch(problem: "RAG_EMBEDDING_MODEL is \(configuration.model), but the \(provider.providerName) provider computes \(provider.model)")
    }
    guard provider.dimensions == ChunkStore.dimensions else {
        throw ProviderMismatch(problem: "\(provider.model) has \(provider.dimensions) dimensions; chunks.embedding holds \(ChunkStore.dimensions)")
    }
    let resilience = ResilientEmbeddingProvider.Configuration(
        retry: RetryPolicy(maxAttempts: configuration.maxAttempts),
        rateLimits: .init(
            requestsPerMinute: configuration.requestsPerMinute == 0 ? nil : configuration.requestsPerMinute,
            tokensPerMinute: configuration.tokensPerMinute == 0 ? nil : configuration.tokensPerMinute),
        maxConcurrentCalls: configuration.concurrency)
    return ResilientEmbeddingProvider(wrapping: provider, configuration: resilience, logger: logger)
}

/// The configured provider cannot fill the `chunks` table as configured.
struct ProviderMismatch: Error, CustomStringConvertible {
    var problem: String
    var description: String { "embedding provider mismatch: \(problem)" }
}
