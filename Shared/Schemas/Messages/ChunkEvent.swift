/// The value of a rag.chunks record (key: `doc_id`): one chunk of a document to embed and store.
/// Produced by the gateway from `POST /chunks`, consumed by the embedder.
public struct ChunkEvent: SchemaMessage, Equatable {
    public static let schema = SchemaName.chunkEvent

    public var docID: String
    /// The chunk's position within its document.
    public var seq: Int
    public var text: String
    /// `public`, `internal` or `confidential`.
    public var visibility: String
    /// Flat attributes from the request (string, number, boolean or null values); nil when absent.
    public var metadata: JSONObject?
    /// Lower-case hex SHA-256 of `text`'s UTF-8 bytes.
    public var contentSHA256: String

    public init(docID: String, seq: Int, text: String, visibility: String, metadata: JSONObject? = nil, contentSHA256: String) {
        self.docID = docID
        self.seq = seq
        self.text = text
        self.visibility = visibility
        self.metadata = metadata
        self.contentSHA256 = contentSHA256
    }

    enum CodingKeys: String, CodingKey {
        case docID = "doc_id", seq, text, visibility, metadata, contentSHA256 = "content_sha256"
    }
}
