/// A chunk an answer cites.
public struct Citation: Codable, Sendable, Equatable {
    public var chunkID: String
    public var docID: String
    /// The chunk's retrieval score.
    public var score: Double

    public init(chunkID: String, docID: String, score: Double) {
        self.chunkID = chunkID
        self.docID = docID
        self.score = score
    }

    enum CodingKeys: String, CodingKey {
        case chunkID = "chunk_id", docID = "doc_id", score
    }
}
