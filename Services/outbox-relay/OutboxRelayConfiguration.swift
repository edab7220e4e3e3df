import WorkerRuntime

/// The outbox-relay's own settings. Every variable it reads is declared here, so `outbox-relay --help-env` lists them all.
struct OutboxRelayConfiguration: WorkerConfiguration {
    /// `RAG_KAFKA_BOOTSTRAP_SERVERS`: the brokers to bootstrap from.
    var kafkaBootstrapServers: [String]
    /// `RAG_TOPIC_PREFIX`: prefix of every topic name.
    var topicPrefix: String
    /// `RAG_DATABASE_URL`: the Postgres database (vector store, answers, outbox).
    var databaseURL: String

    init(reading reader: inout ConfigurationReader) {
        self.kafkaBootstrapServers = reader.read(.kafkaBootstrapServers)
        self.topicPrefix = reader.read(.topicPrefix)
        self.databaseURL = reader.read(.databaseURL)
    }
}
