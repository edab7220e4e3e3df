/// The value of a rag.context record (key: `query_id`): the exact model input of one answer, for
/// deterministic replay and backtesting.
public struct ContextEvent: SchemaMessage, Equatable {
    public static let schema = SchemaName.contextEvent

    public var queryID: String
    /// The retrieved chunks in rank order; empty when nothing visible to the caller matched.
    public var chunks: [RetrievedChunk]
    /// The prompt exactly as sent to the model (after PII masking).
    public var prompt: String
    public var model: String
    public var promptVersion: String
    /// Lower-case hex SHA-256 of the prompt template.
    public var promptHash: String

    public init(queryID: String, chunks: [RetrievedChunk], prompt: String, model: String, promptVersion: String, promptHash: String) {
        self.queryID = queryID
        self.chunks = chunks
        self.prompt = prompt
        self.model = model
        self.promptVersion = promptVersion
        self.promptHash = promptHash
    }

    enum CodingKeys: String, CodingKey {
        case queryID = "query_id", chunks, prompt, model, promptVersion = "prompt_version", promptHash = "prompt_hash"
    }
}
