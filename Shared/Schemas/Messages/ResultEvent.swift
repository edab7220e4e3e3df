/// The value of a rag.results record (key: `query_id`): the outcome of a query, written to the outbox by
/// rag-chain with its `answers` row and published by outbox-relay; the gateway streams it to the asker.
public struct ResultEvent: SchemaMessage, Equatable {
    public static let schema = SchemaName.resultEvent

    public enum Status: String, Codable, Sendable {
        case answered, refused, failed
    }

    public var queryID: String
    public var status: Status
    public var answer: String
    public var citations: [Citation]
    /// The model that answered (the extractive answerer says so here).
    public var model: String
    /// The embedding model whose chunks were searched for the passages.
    public var embeddingModel: String?
    public var promptVersion: String
    public var usage: TokenUsage
    /// From the query's arrival at rag-chain to the answer.
    public var latencyMilliseconds: Int

    public init(queryID: String, status: Status, answer: String, citations: [Citation], model: String, promptVersion: String,
                usage: TokenUsage, latencyMilliseconds: Int, embeddingModel: String? = nil) {
        self.queryID = queryID
        self.status = status
        self.answer = answer
        self.citations = citations
        self.model = model
        self.embeddingModel = embeddingModel
        self.promptVersion = promptVersion
        self.usage = usage
        self.latencyMilliseconds = latencyMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case queryID = "query_id", status, answer, citations, model, embeddingModel = "embedding_model", promptVersion = "prompt_version", usage,
             latencyMilliseconds = "latency_ms"
    }
}
