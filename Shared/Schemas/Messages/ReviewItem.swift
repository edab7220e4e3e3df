public import Foundation

/// The value of a rag.human-review record (key: `query_id`, compacted topic): a result sampled for review.
public struct ReviewItem: SchemaMessage, Equatable {
    public static let schema = SchemaName.reviewItem

    public var queryID: String
    /// Why it was sampled: `sampled` (by rate), `refused`, `failed`, `flagged` (by the rag-chain) or `low_score`.
    public var reason: String
    public var result: ResultEvent
    /// Where the model input is: the review-sampler writes `<context topic>:<query_id>`, e.g.
    /// `rag.context:<query_id>` (rag.context is keyed by query_id).
    public var contextRef: String
    public var sampledAt: Date

    public init(queryID: String, reason: String, result: ResultEvent, contextRef: String, sampledAt: Date) {
        self.queryID = queryID
        self.reason = reason
        self.result = result
        self.contextRef = contextRef
        self.sampledAt = sampledAt
    }

    enum CodingKeys: String, CodingKey {
        case queryID = "query_id", reason, result, contextRef = "context_ref", sampledAt = "sampled_at"
    }
}
