/// The value of a rag.queries record (key: `query_id`): a question to answer. Produced by the gateway from
/// `POST /queries`, consumed by rag-chain.
public struct QueryEvent: SchemaMessage, Equatable {
    public static let schema = SchemaName.queryEvent

    /// A UUID, the same for retries with one Idempotency-Key.
    public var queryID: String
    public var question: String
    /// How many chunks to retrieve (1…50).
    public var topK: Int
    /// Whether the answer's tokens are also streamed to rag.answer-deltas.
    public var stream: Bool

    public init(queryID: String, question: String, topK: Int, stream: Bool) {
        self.queryID = queryID
        self.question = question
        self.topK = topK
        self.stream = stream
    }

    enum CodingKeys: String, CodingKey {
        case queryID = "query_id", question, topK = "top_k", stream
    }
}
