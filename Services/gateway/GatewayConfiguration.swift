import WorkerRuntime

/// The gateway's own settings. Every variable it reads is declared here, so `gateway --help-env` lists them all.
struct GatewayConfiguration: WorkerConfiguration {
    /// `RAG_KAFKA_BOOTSTRAP_SERVERS`: the brokers to bootstrap from.
    var kafkaBootstrapServers: [String]
    /// `RAG_TOPIC_PREFIX`: prefix of every topic name.
    var topicPrefix: String

    init(reading reader: inout ConfigurationReader) {
        self.kafkaBootstrapServers = reader.read(.kafkaBootstrapServers)
        self.topicPrefix = reader.read(.topicPrefix)
    }
}
