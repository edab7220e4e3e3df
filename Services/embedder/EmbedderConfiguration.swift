import ModelClients
import WorkerRuntime

/// The embedder's own settings. Every variable it reads is declared here, so `embedder --help-env` lists them all.
struct EmbedderConfiguration: WorkerConfiguration {
    var kafkaBootstrapServers: [String]
    /// `RAG_KAFKA_SECURITY_PROTOCOL`, `RAG_KAFKA_SASL_*`: applied to every Kafka client beside the bootstrap servers.
    var kafkaSecurity: KafkaSecurity
    var topicPrefix: String
    var databaseURL: String
    var databaseCallTimeout: Duration
    var groupID: String
    var maxInFlight: Int
    var sessionTimeout: Duration
    var fetchWait: Duration
    /// The embedding provider (`RAG_EMBEDDING_*`), shared with rag-chain.
    var embedding: EmbeddingSettings
    var batchWait: Duration

    init(reading reader: inout ConfigurationReader) {
        kafkaBootstrapServers = reader.read(.kafkaBootstrapServers)
        kafkaSecurity = KafkaSecurity(reading: &reader)
        fetchWait = reader.read(.kafkaFetchWait)
        topicPrefix = reader.read(.topicPrefix)
        databaseURL = reader.read(.databaseURL)
        databaseCallTimeout = reader.read(.databaseCallTimeout)
        groupID = reader.read(.string("RAG_EMBEDDER_GROUP", default: "embedder", summary: "Consumer group of the embedders."))
        maxInFlight = reader.read(.integer("RAG_EMBEDDER_MAX_IN_FLIGHT", default: 2048, range: 1 ... 100_000,
                                           summary: "Records processed at once (all partitions); more pauses the partitions."))
        sessionTimeout = reader.read(.kafkaSessionTimeout)
        embedding = EmbeddingSettings(reading: &reader)
        batchWait = reader.read(.duration("RAG_EMBEDDING_BATCH_WAIT", default: .milliseconds(20), range: .zero ... .seconds(10),
                                          summary: "How long a batch waits to fill up after its first text."))
    }
}
