import Foundation
import Messaging
import Schemas

/// One rag.results record, checked: its ResultEvent, the caller's tier, whether the rag-chain flagged it, and
/// the record's timestamp (the ReviewItem's `sampled_at`, so a replay yields the same item).
struct ResultToReview: Sendable {
    var result: ResultEvent
    /// The `user-tier` header set by the gateway and carried by rag-chain onto the result.
    var tier: String
    /// The rag-chain's `review-flag` header (e.g. `output_retried`), nil when it set none.
    var flag: String?
    var recordTime: Date
    /// The headers the ReviewItem record carries over: identity, trace, model, prompt and the flag.
    var forwardedHeaders: [KafkaHeader]

    /// The headers of a rag.results record that its review item keeps. (Not `outbox-id` or `schema-version`:
    /// the item is a different message, and a second publication of the result must give the same item.)
    static let forwardedHeaderNames = [
        "user-id", "user-tier", "tenant", "request-id", "traceparent", "tracestate",
        "model", "model-version", "embedding-model", "prompt-version", "prompt-hash", "review-flag",
    ]

    /// Why a record can never be reviewed: it goes to rag.dlq with `reason` as `dlq-reason`.
    struct Rejection: Error, Sendable {
        var reason: String
        var message: String
    }
}

extension ResultToReview {
    /// Parses and validates a rag.results record; a record that fails here is a poison pill.
    init(record: KafkaRecord, schemas: SchemaRegistry) throws(Rejection) {
        guard let value = record.value else { throw Rejection(reason: "invalid_message", message: "the record has no value") }
        let result: ResultEvent
        do { result = try ResultEvent.decode(value, schemas: schemas) } catch {
            throw Rejection(reason: error.kind.rawValue, message: error.message)
        }
        let headers = record.headers
        guard let tier = headers.value("user-tier"), headers.value("user-id") != nil, headers.value("tenant") != nil else {
            throw Rejection(reason: "missing_identity",
                            message: "the trusted headers user-id, user-tier and tenant are missing (results come from the rag-chain's outbox)")
        }
        guard record.keyString == result.queryID else {
            throw Rejection(reason: "key_mismatch", message: "the record key is not the query_id")
        }
        self.result = result
        self.tier = tier
        flag = headers.value("review-flag").flatMap { $0.isEmpty ? nil : $0 }
        // Brokers stamp every record (CreateTime or LogAppendTime); the clock is only a fallback for a record
        // without one, and such an item is not reproducible. The middle of the record's millisecond: RFC 3339
        // text keeps whole milliseconds by truncating, and a Date exactly at one (a binary fraction near it)
        // may print as the millisecond before.
        recordTime = record.timestampMilliseconds.map { Date(timeIntervalSince1970: (Double($0) + 0.5) / 1000) } ?? Date()
        forwardedHeaders = Self.forwardedHeaderNames.compactMap { name in headers.value(name).map { KafkaHeader(name, $0) } }
    }
}
