import Logging
import Messaging
import Persistence
import ServiceLifecycle
import WorkerRuntime

/// Builds the outbox relay from its configuration: Postgres (migrated by the relay service), the `outbox`
/// listener, the idempotent producer (acks=all), readiness checks, and the services that run the flow.
enum OutboxRelay {
    static func build(configuration: OutboxRelayConfiguration, health: HealthMonitor, logger: Logger) throws -> [any Service] {
        // A connection per drain holds its claiming transaction, one serves measurements, cleanup and readiness.
        let pool = PostgresPool(configuration: .init(connectionString: configuration.databaseURL,
                                                     maxConnections: OutboxRelayService.concurrentDrains + 1, applicationName: "outbox-relay",
                                                     callTimeout: configuration.databaseCallTimeout))
        health.register(ReadinessCheck(name: "postgres") { _ = try await pool.query("SELECT 1") })
        var producerConfiguration = KafkaProducerConfiguration(
            bootstrapServers: configuration.kafkaBootstrapServers.joined(separator: ","), clientID: configuration.clientID)
        producerConfiguration.deliveryTimeout = configuration.deliveryTimeout
        producerConfiguration.additionalProperties = configuration.kafkaSecurity.librdkafkaProperties
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        health.register(ReadinessCheck(name: "kafka-producer") { producer.fatalError })

        let store = OutboxStore(pool: pool)
        let metrics = OutboxMetrics()
        let housekeeping = OutboxHousekeeping(
            store: store, metricsInterval: configuration.metricsInterval, retention: configuration.retention,
            cleanupInterval: configuration.cleanupInterval, cleanupBatchSize: configuration.cleanupBatchSize, metrics: metrics, logger: logger)
        let relay = OutboxRelayService(
            migrator: Migrator(pool: pool, logger: logger), store: store,
            listener: PostgresListener(connectionString: configuration.databaseURL, channels: ["outbox"],
                                       applicationName: "outbox-relay-listener", logger: logger),
            producer: producer, housekeeping: housekeeping, batchSize: configuration.batchSize, pollInterval: configuration.pollInterval,
            metrics: metrics, logger: logger)
        // Stopped last-first: the relay finishes its batch, then the producer flushes, then the pool closes. A
        // fatal producer error ends the producer's service, and with it the worker (exit status 1).
        return [ShutdownTask { await pool.close() }, producer, relay]
    }
}
