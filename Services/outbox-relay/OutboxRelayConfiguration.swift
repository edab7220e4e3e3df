import WorkerRuntime

/// The outbox-relay's own settings. Every variable it reads is declared here, so `outbox-relay --help-env` lists them all.
///
/// The relay publishes each row to the topic named in the row (the writer applied the topic prefix), so it
/// reads no topic variables.
struct OutboxRelayConfiguration: WorkerConfiguration {
    var kafkaBootstrapServers: [String]
    /// `RAG_KAFKA_SECURITY_PROTOCOL`, `RAG_KAFKA_SASL_*`: applied to every Kafka client beside the bootstrap servers.
    var kafkaSecurity: KafkaSecurity
    var databaseURL: String
    var databaseCallTimeout: Duration
    var clientID: String
    var deliveryTimeout: Duration
    var batchSize: Int
    var pollInterval: Duration
    var retention: Duration
    var cleanupInterval: Duration
    var cleanupBatchSize: Int
    var metricsInterval: Duration

    init(reading reader: inout ConfigurationReader) {
        kafkaBootstrapServers = reader.read(.kafkaBootstrapServers)
        kafkaSecurity = KafkaSecurity(reading: &reader)
        databaseURL = reader.read(.databaseURL)
        databaseCallTimeout = reader.read(.databaseCallTimeout)
        clientID = reader.read(.string("RAG_OUTBOX_CLIENT_ID", default: "outbox-relay",
                                       summary: "Kafka client.id of the relay's producer (broker logs and quotas)."))
        deliveryTimeout = reader.read(.duration("RAG_OUTBOX_DELIVERY_TIMEOUT", default: .seconds(30), range: .seconds(1) ... .seconds(600),
                                                summary: "How long the producer tries to deliver one record; a batch whose record fails is retried."))
        batchSize = reader.read(.integer("RAG_OUTBOX_BATCH_SIZE", default: 100, range: 1 ... 10_000,
                                         summary: "Rows claimed, published and marked in one transaction."))
        pollInterval = reader.read(.duration("RAG_OUTBOX_POLL_INTERVAL", default: .seconds(5), range: .milliseconds(10) ... .seconds(3600),
                                             summary: "Fallback poll for new rows when no NOTIFY arrives (the relay LISTENs on 'outbox')."))
        retention = reader.read(.duration("RAG_OUTBOX_RETENTION", default: .seconds(24 * 3600), range: .seconds(1) ... .seconds(366 * 24 * 3600),
                                          summary: "How long published rows are kept before they are deleted."))
        cleanupInterval = reader.read(.duration("RAG_OUTBOX_CLEANUP_INTERVAL", default: .seconds(60), range: .milliseconds(100) ... .seconds(24 * 3600),
                                                summary: "How often published rows older than RAG_OUTBOX_RETENTION are deleted."))
        cleanupBatchSize = reader.read(.integer("RAG_OUTBOX_CLEANUP_BATCH_SIZE", default: 1000, range: 1 ... 100_000,
                                                summary: "Rows deleted per statement by the retention cleanup."))
        metricsInterval = reader.read(.duration("RAG_OUTBOX_METRICS_INTERVAL", default: .seconds(5), range: .milliseconds(100) ... .seconds(3600),
                                                summary: "How often rag_outbox_backlog and rag_outbox_oldest_age_seconds are measured."))
    }
}
