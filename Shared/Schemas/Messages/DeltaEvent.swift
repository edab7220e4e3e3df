/// The value of a rag.answer-deltas record (key: `query_id`): the next piece of a streamed answer.
public struct DeltaEvent: SchemaMessage, Equatable {
    public static let schema = SchemaName.deltaEvent

    public var queryID: String
    /// 0, 1, 2, … in the order the pieces make up the answer.
    public var index: Int
    public var text: String

    public init(queryID: String, index: Int, text: String) {
        self.queryID = queryID
        self.index = index
        self.text = text
    }

    enum CodingKeys: String, CodingKey {
        case queryID = "query_id", index, text
    }
}
