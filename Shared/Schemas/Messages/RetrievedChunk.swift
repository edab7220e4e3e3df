/// One retrieved chunk with its similarity score, as given to the model (ContextEvent).
public struct RetrievedChunk: Codable, Sendable, Equatable {
    public var chunkID: String
    public var docID: String
    public var seq: Int
    /// Cosine similarity to the question (higher is closer).
    public var score: Double
    public var text: String

    public init(chunkID: String, docID: String, seq: Int, score: Double, text: String) {
        self.chunkID = chunkID
        self.docID = docID
        self.seq = seq
        self.score = score
        self.text = text
    }

    enum CodingKeys: String, CodingKey {
        case chunkID = "chunk_id", docID = "doc_id", seq, score, text
    }
}
