/// The value of a rag.index-events record (key: `doc_id`): ingestion progress of a document, written to the
/// outbox by the embedder and published by outbox-relay.
public struct IndexEvent: SchemaMessage, Equatable {
    public static let schema = SchemaName.indexEvent

    public enum Status: String, Codable, Sendable {
        /// Embedded and stored.
        case indexed
        /// Content already stored for this model: nothing re-embedded (visibility or metadata changed).
        case unchanged
        /// Not indexed (details on rag.dlq).
        case failed
    }

    public var docID: String
    /// How many chunks this event reports on.
    public var chunks: Int
    /// The embedding model.
    public var model: String
    public var status: Status

    public init(docID: String, chunks: Int, model: String, status: Status) {
        self.docID = docID
        self.chunks = chunks
        self.model = model
        self.status = status
    }

    enum CodingKeys: String, CodingKey {
        case docID = "doc_id", chunks, model, status
    }
}
