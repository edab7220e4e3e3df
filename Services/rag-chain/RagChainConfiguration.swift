import Auth
import ModelClients
import WorkerRuntime

/// The rag-chain's own settings. Every variable it reads is declared here, so `rag-chain --help-env` lists them all.
struct RagChainConfiguration: WorkerConfiguration {
    enum AnswererKind: String, Sendable, CaseIterable {
        /// Composes the answer from the retrieved passages and cites them; no model, no network.
        case extractive
        /// An OpenAI-compatible `/v1/chat/completions` API over HTTP, or over a Unix socket (a sidecar).
        case openai
    }

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
    var tiers: TierPolicy
    /// The question's embedding: the same provider and model as the embedder's (`RAG_EMBEDDING_*`).
    var embedding: EmbeddingSettings
    var minScore: Double
    var efSearch: Int
    var answerer: AnswererKind
    var chatModel: String
    var chatBaseURL: String
    var chatAPIKey: String
    var chatUnixSocket: String
    var chatTimeout: Duration
    var chatMaxAttempts: Int
    var chatConcurrency: Int
    var chatRequestsPerMinute: Int
    var chatTokensPerMinute: Int
    var chatMaxTokens: Int
    var answerAttempts: Int
    var promptTemplateFile: String
    var piiPatterns: [PIIMasker.Pattern]

    init(reading reader: inout ConfigurationReader) {
        kafkaBootstrapServers = reader.read(.kafkaBootstrapServers)
        kafkaSecurity = KafkaSecurity(reading: &reader)
        fetchWait = reader.read(.kafkaFetchWait)
        topicPrefix = reader.read(.topicPrefix)
        databaseURL = reader.read(.databaseURL)
        databaseCallTimeout = reader.read(.databaseCallTimeout)
        groupID = reader.read(.string("RAG_CHAIN_GROUP", default: "rag-chain", summary: "Consumer group of the rag-chain workers."))
        maxInFlight = reader.read(.integer("RAG_CHAIN_MAX_IN_FLIGHT", default: 256, range: 1 ... 100_000,
                                           summary: "Queries answered at once (all partitions); more pauses the partitions, never the poll loop."))
        sessionTimeout = reader.read(.kafkaSessionTimeout)
        tiers = reader.read(.tierVisibilities)
        embedding = EmbeddingSettings(reading: &reader)
        minScore = reader.read(.double("RAG_RETRIEVAL_MIN_SCORE", default: 0.4, range: -1 ... 1,
                                       summary: "Least cosine similarity of a retrieved chunk; a query with none above it is refused without a model call."))
        efSearch = reader.read(.integer("RAG_RETRIEVAL_EF_SEARCH", default: 100, range: 10 ... 1000,
                                        summary: "hnsw.ef_search of the vector search (recall against speed)."))
        answerer = reader.read(.oneOf("RAG_CHAT_PROVIDER", options: ["extractive": .extractive, "openai": .openai], default: "extractive",
                                      summary: "extractive (answers from the passages, no network) or openai (an OpenAI-compatible chat API)."))
        chatModel = reader.read(.string("RAG_CHAT_MODEL", default: "gpt-4o-mini", summary: "Chat model name sent to the provider (provider openai)."))
        chatBaseURL = reader.read(.string("RAG_CHAT_BASE_URL", default: "",
                                          summary: "Base URL of the OpenAI-compatible chat API (provider openai), e.g. http://127.0.0.1:11434."))
        chatAPIKey = reader.read(.string("RAG_CHAT_API_KEY", default: "", summary: "Bearer token for the chat provider, if it needs one.",
                                         redaction: .secret))
        chatUnixSocket = reader.read(.string("RAG_CHAT_UNIX_SOCKET", default: "",
                                             summary: "Talk to the chat provider over this Unix socket (a sidecar) instead of TCP."))
        chatTimeout = reader.read(.duration("RAG_CHAT_TIMEOUT", default: .seconds(60), range: .milliseconds(100) ... .seconds(900),
                                            summary: "Timeout of one chat call, the whole streamed answer included."))
        chatMaxAttempts = reader.read(.integer("RAG_CHAT_MAX_ATTEMPTS", default: 6, range: 1 ... 100,
                                               summary: "Calls per answer attempt before the query fails (429, 5xx, timeouts are retried)."))
        chatConcurrency = reader.read(.integer("RAG_CHAT_CONCURRENCY", default: 256, range: 1 ... 10_000, summary: "Chat calls in flight at once."))
        chatRequestsPerMinute = reader.read(.integer("RAG_CHAT_REQUESTS_PER_MINUTE", default: 0, range: 0 ... 10_000_000,
                                                     summary: "Client-side limit of chat calls per minute (0: none)."))
        chatTokensPerMinute = reader.read(.integer("RAG_CHAT_TOKENS_PER_MINUTE", default: 0, range: 0 ... 1_000_000_000,
                                                   summary: "Client-side limit of prompt tokens per minute (0: none)."))
        chatMaxTokens = reader.read(.integer("RAG_CHAT_MAX_TOKENS", default: 512, range: 1 ... 100_000, summary: "Most tokens of one answer."))
        answerAttempts = reader.read(.integer("RAG_ANSWER_ATTEMPTS", default: 3, range: 1 ... 10,
                                              summary: "Answers generated per query while the model's output fails validation; then rag.dlq."))
        promptTemplateFile = reader.read(.string("RAG_PROMPT_TEMPLATE", default: "",
                                                 summary: "Prompt template file (its name, without extension, is the prompt version); empty: the bundled answer-v1."))
        piiPatterns = reader.read(ConfigurationVariable(
            name: "RAG_PII_PATTERNS", summary: "Extra spans masked before context goes to an external model, besides emails, phone, card and IBAN numbers.",
            expectation: "name=regex entries separated by ;;", defaultValue: [], defaultDescription: "", placeholder: [],
            parse: { raw throws(ConfigurationValueRejection) in
                do { return try PIIMasker.Pattern.parseList(raw) } catch {
                    throw ConfigurationValueRejection("is invalid: \(error)")
                }
            }))
        if answerer == .openai && chatBaseURL.isEmpty && chatUnixSocket.isEmpty {
            reader.report(.init(variable: "RAG_CHAT_BASE_URL", issue: "is required when RAG_CHAT_PROVIDER=openai",
                                expectation: "a URL such as http://127.0.0.1:8000"))
        }
    }
}
