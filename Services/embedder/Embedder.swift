import Foundation
import Logging
import Messaging
import ModelClients
import Persistence
import Schemas
import ServiceLifecycle
import WorkerRuntime

/// Builds the embedder from its configuration: Postgres (migrated), the embedding provider, the Kafka
/// consumer and dead-letter producer, and the service that runs the flow.
enum Embedder {
    static func build(configuration: EmbedderConfiguration, health: HealthMonitor, logger: Logger) async throws -> [any Service] {
        let pool = PostgresPool(configuration: .init(connectionString: configuration.databaseURL, maxConnections: 8, applicationName: "embedder",
                                                     callTimeout: configuration.databaseCallTimeout))
        health.register(ReadinessCheck(name: "postgres") { _ = try await pool.query("SELECT 1") })

        let provider = try configuration.embedding.makeProvider(dimensions: ChunkStore.dimensions, logger: logger)
        let topics = RAGTopics(prefix: configuration.topicPrefix)
        let bootstrap = configuration.kafkaBootstrapServers.joined(separator: ",")
        let schemas = try SchemaRegistry.bundled()

        var consumerConfiguration = KafkaConsumerConfiguration(
            bootstrapServers: bootstrap, groupID: configuration.groupID, topics: [topics.chunks], clientID: "embedder",
            sessionTimeout: configuration.sessionTimeout, fetchWaitMax: configuration.fetchWait,
            properties: configuration.kafkaSecurity.librdkafkaProperties)
        consumerConfiguration.maxInFlight = configuration.maxInFlight
        consumerConfiguration.maxInFlightPerPartition = max(1, configuration.maxInFlight / 2)
        // rag.chunks is keyed by document; each chunk is its own entity: versions of one chunk apply in order,
        // a document's chunks run concurrently.
        consumerConfiguration.ordering = .perKey(ChunkToIndex.orderingKey)
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: bootstrap, clientID: "embedder-dlq")
        producerConfiguration.additionalProperties = configuration.kafkaSecurity.librdkafkaProperties
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        health.register(ReadinessCheck(name: "kafka-producer") { producer.fatalError })

        let indexer = ChunkIndexer(
            provider: provider,
            store: ChunkStore(pool: pool, model: provider.model, indexEventsTopic: topics.indexEvents,
                              indexEventVersion: schemas.version(of: .indexEvent)),
            pendingVectors: VectorCache(), logger: logger)
        let batcher = EmbeddingBatcher<ChunkToIndex, ChunkIndexer.Outcome>(
            maxSize: configuration.embedding.batchSize, maxWait: configuration.batchWait) { chunks in await indexer.index(chunks) }
        let service = EmbedderService(
            migrator: Migrator(pool: pool, logger: logger), consumer: consumer, batcher: batcher, deadLetters: KafkaDeadLetterWriter(producer: producer, topic: topics.deadLetters, stage: "embedder"),
            schemas: schemas, model: provider.model, logger: logger)
        // Stopped last-first: the consumer drains, then the producer flushes, then the pool closes. A fatal
        // producer error ends the producer's service, and with it the worker (exit status 1).
        return [ShutdownTask { await pool.close() }, producer, service]
    }
}
