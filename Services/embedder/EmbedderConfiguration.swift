import WorkerRuntime

/// The embedder's own settings. Every variable it reads is declared here, so `embedder --help-env` lists them all.
struct EmbedderConfiguration: WorkerConfiguration {
    enum Provider: String, Sendable, CaseIterable {
        /// all-MiniLM-L6-v2 in this process (no network).
        case minilm
        /// An OpenAI-compatible `/v1/embeddings` API over HTTP, or over a Unix socket (a sidecar).
        case openai
    }

    var kafkaBootstrapServers: [String]
    var topicPrefix: String
    var databaseURL: String
    var databaseCallTimeout: Duration
    var groupID: String
    var maxInFlight: Int
    var sessionTimeout: Duration
    var provider: Provider
    var model: String
    var baseURL: String
    var apiKey: String
    var unixSocket: String
    var batchSize: Int
    var batchWait: Duration
    var concurrency: Int
    var requestsPerMinute: Int
    var tokensPerMinute: Int
    var timeout: Duration
    var maxAttempts: Int
    var minilmThreads: Int

    init(reading reader: inout ConfigurationReader) {
        kafkaBootstrapServers = reader.read(.kafkaBootstrapServers)
        topicPrefix = reader.read(.topicPrefix)
        databaseURL = reader.read(.databaseURL)
        databaseCallTimeout = reader.read(.databaseCallTimeout)
        groupID = reader.read(.string("RAG_EMBEDDER_GROUP", default: "embedder", summary: "Consumer group of the embedders."))
        maxInFlight = reader.read(.integer("RAG_EMBEDDER_MAX_IN_FLIGHT", default: 2048, range: 1 ... 100_000,
                                           summary: "Records processed at once (all partitions); more pauses the partitions."))
        sessionTimeout = reader.read(.duration("RAG_KAFKA_SESSION_TIMEOUT", default: .seconds(45), range: .seconds(3) ... .seconds(300),
                                              summary: "Kafka consumer session timeout: how soon a crashed embedder's partitions move to another."))
        provider = reader.read(.oneOf("RAG_EMBEDDING_PROVIDER", options: ["minilm": .minilm, "openai": .openai], default: "minilm", summary: "minilm (in-process, no network) or openai (an OpenAI-compatible API)."))
        model = reader.read(.string("RAG_EMBEDDING_MODEL", default: "all-MiniLM-L6-v2",
                                    summary: "Model name: stored with each row and part of its chunk id; sent to the provider."))
        baseURL = reader.read(.string("RAG_EMBEDDING_BASE_URL", default: "",
                                      summary: "Base URL of the OpenAI-compatible API (provider openai), e.g. http://127.0.0.1:11434."))
        apiKey = reader.read(.string("RAG_EMBEDDING_API_KEY", default: "", summary: "Bearer token for the provider, if it needs one.",
                                     redaction: .secret))
        unixSocket = reader.read(.string("RAG_EMBEDDING_UNIX_SOCKET", default: "",
                                         summary: "Talk to the provider over this Unix socket (a sidecar) instead of TCP."))
        batchSize = reader.read(.integer("RAG_EMBEDDING_BATCH_SIZE", default: 32, range: 1 ... 2048, summary: "Texts per model call."))
        batchWait = reader.read(.duration("RAG_EMBEDDING_BATCH_WAIT", default: .milliseconds(20), range: .zero ... .seconds(10),
                                          summary: "How long a batch waits to fill up after its first text."))
        concurrency = reader.read(.integer("RAG_EMBEDDING_CONCURRENCY", default: 4, range: 1 ... 256, summary: "Model calls in flight at once."))
        requestsPerMinute = reader.read(.integer("RAG_EMBEDDING_REQUESTS_PER_MINUTE", default: 0, range: 0 ... 10_000_000,
                                                 summary: "Client-side limit of model calls per minute (0: none)."))
        tokensPerMinute = reader.read(.integer("RAG_EMBEDDING_TOKENS_PER_MINUTE", default: 0, range: 0 ... 1_000_000_000,
                                               summary: "Client-side limit of input tokens per minute (0: none)."))
        timeout = reader.read(.duration("RAG_EMBEDDING_TIMEOUT", default: .seconds(30), range: .milliseconds(100) ... .seconds(600),
                                        summary: "Timeout of one model call."))
        maxAttempts = reader.read(.integer("RAG_EMBEDDING_MAX_ATTEMPTS", default: 8, range: 1 ... 100,
                                           summary: "Calls per batch before its chunks go to rag.dlq (429, 5xx, timeouts are retried)."))
        minilmThreads = reader.read(.integer("RAG_MINILM_THREADS", default: 2, range: 1 ... 64, summary: "Threads of the in-process model."))
        if provider == .openai && baseURL.isEmpty {
            reader.report(.init(variable: "RAG_EMBEDDING_BASE_URL", issue: "is required when RAG_EMBEDDING_PROVIDER=openai",
                                expectation: "a URL such as http://127.0.0.1:8000"))
        }
    }
}
