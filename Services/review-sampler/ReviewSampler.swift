import Logging
import Messaging
import Schemas
import ServiceLifecycle
import WorkerRuntime

/// Builds the review-sampler from its configuration: the Kafka consumer of rag.results, the idempotent
/// producer of review items and dead letters, the sampling policy, and the service that runs the flow.
enum ReviewSampler {
    static func build(configuration: ReviewSamplerConfiguration, health: HealthMonitor, logger: Logger) throws -> [any Service] {
        let topics = RAGTopics(prefix: configuration.topicPrefix)
        let bootstrap = configuration.kafkaBootstrapServers.joined(separator: ",")

        var consumerConfiguration = KafkaConsumerConfiguration(
            bootstrapServers: bootstrap, groupID: configuration.groupID, topics: [topics.results], clientID: "review-sampler",
            sessionTimeout: configuration.sessionTimeout, fetchWaitMax: configuration.fetchWait,
            properties: configuration.kafkaSecurity.librdkafkaProperties)
        consumerConfiguration.maxInFlight = configuration.maxInFlight
        consumerConfiguration.maxInFlightPerPartition = configuration.maxInFlight
        consumerConfiguration.ordering = .perKey  // the key is the query_id: a result published twice is seen in order
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: bootstrap, clientID: "review-sampler")
        producerConfiguration.additionalProperties = configuration.kafkaSecurity.librdkafkaProperties
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        health.register(ReadinessCheck(name: "kafka-producer") { producer.fatalError })

        let service = ReviewSamplerService(
            consumer: consumer, producer: producer,
            deadLetters: KafkaDeadLetterWriter(producer: producer, topic: topics.deadLetters, stage: "review-sampler"),
            schemas: try SchemaRegistry.bundled(), policy: configuration.policy,
            recent: RecentQueryIDs(capacity: configuration.recentCapacity), topics: topics,
            ready: health.registerFlag(named: "kafka"), logger: logger)
        // Stopped last-first: the consumer drains and commits, then the producer flushes. A fatal producer error
        // ends the producer's service, and with it the worker (exit status 1).
        return [producer, service]
    }
}
