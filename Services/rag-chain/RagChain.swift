import Auth
import Foundation
import Logging
import Messaging
import ModelClients
import Persistence
import Retrieval
import Schemas
import ServiceLifecycle
import WorkerRuntime

/// Builds the rag-chain from its configuration: Postgres (migrated), the question's embedding provider, the
/// answerer, the Kafka consumer and producer, and the service that runs the flow.
enum RagChain {
    /// The width of `chunks.embedding` (migration 0001).
    static let dimensions = 384

    static func build(configuration: RagChainConfiguration, health: HealthMonitor, logger: Logger) async throws -> [any Service] {
        let pool = PostgresPool(configuration: .init(connectionString: configuration.databaseURL, maxConnections: 16, applicationName: "rag-chain",
                                                     callTimeout: configuration.databaseCallTimeout))
        health.register(ReadinessCheck(name: "postgres") { _ = try await pool.query("SELECT 1") })
        let topics = RAGTopics(prefix: configuration.topicPrefix)
        let bootstrap = configuration.kafkaBootstrapServers.joined(separator: ",")
        let embedder = try configuration.embedding.makeProvider(dimensions: dimensions, logger: logger)
        let template = try configuration.promptTemplateFile.isEmpty
            ? PromptTemplate.bundled() : PromptTemplate(contentsOf: URL(fileURLWithPath: configuration.promptTemplateFile))

        var consumerConfiguration = KafkaConsumerConfiguration(
            bootstrapServers: bootstrap, groupID: configuration.groupID, topics: [topics.queries], clientID: "rag-chain",
            sessionTimeout: configuration.sessionTimeout, fetchWaitMax: configuration.fetchWait,
            properties: configuration.kafkaSecurity.librdkafkaProperties)
        consumerConfiguration.maxInFlight = configuration.maxInFlight
        consumerConfiguration.maxInFlightPerPartition = configuration.maxInFlight
        consumerConfiguration.ordering = .perKey  // the key is the query_id: one query, one lane
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: bootstrap, clientID: "rag-chain")
        producerConfiguration.additionalProperties = configuration.kafkaSecurity.librdkafkaProperties
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        health.register(ReadinessCheck(name: "kafka-producer") { producer.fatalError })

        let service = RagChainService(
            migrator: Migrator(pool: pool, logger: logger), consumer: consumer, embedder: embedder,
            retriever: ChunkRetriever(pool: pool, model: embedder.model, minScore: configuration.minScore, efSearch: configuration.efSearch),
            answerer: try makeAnswerer(configuration, logger: logger), template: template,
            masker: PIIMasker(extraPatterns: configuration.piiPatterns),
            store: AnswerStore(pool: pool, resultsTopic: topics.results), producer: producer,
            deadLetters: KafkaDeadLetterWriter(producer: producer, topic: topics.deadLetters, stage: "rag-chain"),
            schemas: try SchemaRegistry.bundled(), tiers: configuration.tiers, topics: topics, logger: logger)
        // Stopped last-first: the consumer drains, then the producer flushes, then the pool closes.
        return [ShutdownTask { await pool.close() }, producer, service]
    }

    /// The answerer selected by `RAG_CHAT_PROVIDER`: the chat client wrapped with retries, circuit breaker,
    /// rate and concurrency limits.
    static func makeAnswerer(_ configuration: RagChainConfiguration, logger: Logger) throws -> any Answerer {
        switch configuration.answerer {
        case .extractive:
            return ExtractiveAnswerer()
        case .openai:
            let chat = try OpenAIChatProvider(
                configuration: .init(
                    baseURL: configuration.chatBaseURL, model: configuration.chatModel,
                    apiKey: configuration.chatAPIKey.isEmpty ? nil : configuration.chatAPIKey, timeout: configuration.chatTimeout,
                    unixSocketPath: configuration.chatUnixSocket.isEmpty ? nil : configuration.chatUnixSocket,
                    maxConcurrentRequests: configuration.chatConcurrency),
                logger: logger)
            let resilient = ResilientChatProvider(
                wrapping: chat,
                configuration: .init(
                    retry: RetryPolicy(maxAttempts: configuration.chatMaxAttempts),
                    rateLimits: .init(requestsPerMinute: configuration.chatRequestsPerMinute == 0 ? nil : configuration.chatRequestsPerMinute,
                                      tokensPerMinute: configuration.chatTokensPerMinute == 0 ? nil : configuration.chatTokensPerMinute),
                    maxConcurrentCalls: configuration.chatConcurrency),
                logger: logger)
            return ChatAnswerer(chat: resilient, attempts: configuration.answerAttempts, maxTokens: configuration.chatMaxTokens)
        }
    }
}
