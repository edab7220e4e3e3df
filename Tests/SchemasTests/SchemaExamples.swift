import Foundation
import Schemas
import Testing

/// A value and what validating it against one schema must report. Shared by the Swift tests and the
/// cross-check against Python's `jsonschema`.
struct SchemaExample: Sendable, CustomTestStringConvertible {
    let schema: SchemaName
    let label: String
    let value: JSONValue
    /// Expected violations as `"<pointer> <keyword>"`, in any order; empty for a valid value.
    let expected: [String]
    /// Whether Python's `jsonschema` must agree. Off only where its semantics knowingly differ (Python's
    /// `re` lets `$` match before a final newline; ECMA-262, which JSON Schema specifies, does not).
    let crossCheck: Bool

    init(_ schema: SchemaName, _ label: String, _ value: JSONValue, expect expected: [String] = [], crossCheck: Bool = true) {
        self.schema = schema
        self.label = label
        self.value = value
        self.expected = expected
        self.crossCheck = crossCheck
    }

    var isValid: Bool { expected.isEmpty }
    var testDescription: String { "\(schema.rawValue): \(label)" }
}

enum SchemaExamples {
    // MARK: - Building blocks

    static let queryID = "0f8fad5b-d9cb-469f-a165-70867728950e"
    static let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

    static let chunk: JSONValue = [
        "doc_id": "handbook/2024:v2.pdf",
        "seq": 0,
        "text": "Kafka decouples producers from consumers.",
        "visibility": "internal",
        "metadata": ["title": "Handbook", "page": 3, "ratio": 0.75, "draft": false, "reviewer": nil],
    ]
    static let minimalChunk: JSONValue = ["doc_id": "d1", "seq": 1, "text": "x", "visibility": "public"]

    static func batch(_ chunks: [JSONValue]) -> JSONValue { ["chunks": .array(chunks)] }

    static func chunks(_ count: Int) -> [JSONValue] {
        (0..<count).map { minimalChunk.setting("seq", .integer($0)) }
    }

    static func text(_ character: String, _ count: Int) -> JSONValue {
        .string(String(repeating: character, count: count))
    }

    static func metadata(keys count: Int) -> JSONValue {
        .object(JSONObject(uniqueKeysWithValues: (0..<count).map { ("k\($0)", JSONValue.integer($0)) }))
    }

    static let chunkEvent: JSONValue = chunk.setting("content_sha256", .string(sha256))
    static let queryEvent: JSONValue = ["query_id": .string(queryID), "question": "What is Kafka?", "top_k": 5, "stream": false]
    static let contextChunk: JSONValue = [
        "chunk_id": "c-0001", "doc_id": "handbook", "seq": 2, "score": 0.83, "text": "Kafka is a log.",
    ]
    static let contextEvent: JSONValue = [
        "query_id": .string(queryID),
        "chunks": [contextChunk, contextChunk.setting("chunk_id", "c-0002").setting("score", 1)],
        "prompt": "Answer from the context.\n[1] Kafka is a log.\nQuestion: What is Kafka?",
        "model": "extractive-answerer",
        "prompt_version": "answer-v1",
        "prompt_hash": .string(sha256),
    ]
    static let deltaEvent: JSONValue = ["query_id": .string(queryID), "index": 0, "text": "Kafka is"]
    static let citation: JSONValue = ["chunk_id": "c-0001", "doc_id": "handbook", "score": 0.83]
    static let resultEvent: JSONValue = [
        "query_id": .string(queryID),
        "status": "answered",
        "answer": "Kafka is a distributed log [1].",
        "citations": [citation],
        "model": "extractive-answerer",
        "prompt_version": "answer-v1",
        "usage": ["prompt_tokens": 812, "completion_tokens": 9],
        "latency_ms": 1432,
    ]
    static let indexEvent: JSONValue = ["doc_id": "handbook", "chunks": 12, "model": "all-MiniLM-L6-v2", "status": "indexed"]
    static let reviewItem: JSONValue = [
        "query_id": .string(queryID),
        "reason": "random",
        "result": resultEvent,
        "context_ref": "rag.context/3/1207",
        "sampled_at": "2025-03-01T09:15:00.250+01:00",
    ]

    // MARK: - chunk-request.v1

    static let chunkRequest: [SchemaExample] = [
        SchemaExample(.chunkRequest, "full chunk", chunk),
        SchemaExample(.chunkRequest, "minimal chunk", minimalChunk),
        SchemaExample(.chunkRequest, "seq 0", minimalChunk.setting("seq", 0)),
        SchemaExample(.chunkRequest, "the largest seq", minimalChunk.setting("seq", 2_147_483_647)),
        SchemaExample(.chunkRequest, "seq 1.0 is an integer in JSON Schema", minimalChunk.setting("seq", 1.0)),
        SchemaExample(.chunkRequest, "text of exactly 20000 ASCII characters", minimalChunk.setting("text", text("a", 20000))),
        SchemaExample(.chunkRequest, "text of exactly 20000 two-byte characters", minimalChunk.setting("text", text("é", 20000))),
        SchemaExample(.chunkRequest, "text of exactly 20000 four-byte characters", minimalChunk.setting("text", text("🙂", 20000))),
        SchemaExample(.chunkRequest, "doc_id of 128 characters", minimalChunk.setting("doc_id", text("d", 128))),
        SchemaExample(.chunkRequest, "metadata with 32 keys", minimalChunk.setting("metadata", metadata(keys: 32))),
        SchemaExample(.chunkRequest, "empty metadata", minimalChunk.setting("metadata", [:])),
        SchemaExample(.chunkRequest, "missing doc_id", minimalChunk.removing("doc_id"), expect: ["/doc_id required"]),
        SchemaExample(.chunkRequest, "missing seq", minimalChunk.removing("seq"), expect: ["/seq required"]),
        SchemaExample(.chunkRequest, "missing text", minimalChunk.removing("text"), expect: ["/text required"]),
        SchemaExample(.chunkRequest, "missing visibility", minimalChunk.removing("visibility"), expect: ["/visibility required"]),
        SchemaExample(.chunkRequest, "string where integer", minimalChunk.setting("seq", "3"), expect: ["/seq type"]),
        SchemaExample(.chunkRequest, "true where integer", minimalChunk.setting("seq", true), expect: ["/seq type"]),
        SchemaExample(.chunkRequest, "1.5 where integer", minimalChunk.setting("seq", 1.5), expect: ["/seq type"]),
        SchemaExample(.chunkRequest, "null where integer", minimalChunk.setting("seq", JSONValue.null), expect: ["/seq type"]),
        SchemaExample(.chunkRequest, "negative seq", minimalChunk.setting("seq", -1), expect: ["/seq minimum"]),
        SchemaExample(.chunkRequest, "seq above the maximum", minimalChunk.setting("seq", 2_147_483_648), expect: ["/seq maximum"]),
        SchemaExample(.chunkRequest, "number where string", minimalChunk.setting("text", 42), expect: ["/text type"]),
        SchemaExample(.chunkRequest, "unknown field", minimalChunk.setting("page", 4), expect: ["/page additionalProperties"]),
        SchemaExample(
            .chunkRequest, "identity fields in the body are unknown fields",
            minimalChunk.setting("user_id", "u1").setting("tenant", "acme").setting("user_tier", "enterprise"),
            expect: ["/tenant additionalProperties", "/user_id additionalProperties", "/user_tier additionalProperties"]
        ),
        SchemaExample(.chunkRequest, "text of 20001 characters", minimalChunk.setting("text", text("a", 20001)), expect: ["/text maxLength"]),
        SchemaExample(
            .chunkRequest, "text of 20001 four-byte characters", minimalChunk.setting("text", text("🙂", 20001)),
            expect: ["/text maxLength"]
        ),
        SchemaExample(.chunkRequest, "empty text", minimalChunk.setting("text", ""), expect: ["/text minLength"]),
        SchemaExample(.chunkRequest, "text with NUL", minimalChunk.setting("text", "a\u{0}b"), expect: ["/text pattern"]),
        SchemaExample(.chunkRequest, "unknown visibility", minimalChunk.setting("visibility", "secret"), expect: ["/visibility enum"]),
        SchemaExample(.chunkRequest, "visibility in capitals", minimalChunk.setting("visibility", "PUBLIC"), expect: ["/visibility enum"]),
        SchemaExample(.chunkRequest, "visibility not a string", minimalChunk.setting("visibility", 1), expect: ["/visibility enum"]),
        SchemaExample(.chunkRequest, "doc_id with a space", minimalChunk.setting("doc_id", "my doc"), expect: ["/doc_id pattern"]),
        SchemaExample(.chunkRequest, "doc_id of 129 characters", minimalChunk.setting("doc_id", text("d", 129)), expect: ["/doc_id maxLength"]),
        SchemaExample(.chunkRequest, "empty doc_id", minimalChunk.setting("doc_id", ""), expect: ["/doc_id minLength", "/doc_id pattern"]),
        SchemaExample(
            .chunkRequest, "doc_id with a trailing newline", minimalChunk.setting("doc_id", "doc\n"),
            expect: ["/doc_id pattern"], crossCheck: false
        ),
        SchemaExample(.chunkRequest, "metadata with 33 keys", minimalChunk.setting("metadata", metadata(keys: 33)), expect: ["/metadata maxProperties"]),
        SchemaExample(
            .chunkRequest, "metadata value that is an object",
            minimalChunk.setting("metadata", ["nested": ["a": 1], "list": [1, 2]]),
            expect: ["/metadata/list type", "/metadata/nested type"]
        ),
        SchemaExample(
            .chunkRequest, "metadata key of 65 characters",
            minimalChunk.setting("metadata", .object([String(repeating: "k", count: 65): 1])),
            expect: ["/metadata/\(String(repeating: "k", count: 65)) propertyNames"]
        ),
        SchemaExample(
            .chunkRequest, "metadata string of 1025 characters", minimalChunk.setting("metadata", ["title": text("t", 1025)]),
            expect: ["/metadata/title maxLength"]
        ),
        SchemaExample(
            .chunkRequest, "pointers escape ~ and /", minimalChunk.setting("metadata", ["a/b~c": [:]]).setting("x/y", 1),
            expect: ["/metadata/a~1b~0c type", "/x~1y additionalProperties"]
        ),
        SchemaExample(.chunkRequest, "an array instead of an object", [minimalChunk], expect: [" type"]),
        SchemaExample(.chunkRequest, "a string instead of an object", "chunk", expect: [" type"]),
        SchemaExample(
            .chunkRequest, "several violations at once",
            ["seq": "x", "text": "", "visibility": "top", "extra": 1],
            expect: ["/doc_id required", "/seq type", "/text minLength", "/visibility enum", "/extra additionalProperties"]
        ),
    ]

    // MARK: - chunk-batch-request.v1

    static let chunkBatchRequest: [SchemaExample] = [
        SchemaExample(.chunkBatchRequest, "one chunk", batch([chunk])),
        SchemaExample(.chunkBatchRequest, "256 chunks", batch(chunks(256))),
        SchemaExample(.chunkBatchRequest, "empty batch", batch([]), expect: ["/chunks minItems"]),
        SchemaExample(.chunkBatchRequest, "257 chunks", batch(chunks(257)), expect: ["/chunks maxItems"]),
        SchemaExample(.chunkBatchRequest, "missing chunks", [:], expect: ["/chunks required"]),
        SchemaExample(.chunkBatchRequest, "chunks not an array", ["chunks": minimalChunk], expect: ["/chunks type"]),
        SchemaExample(.chunkBatchRequest, "unknown top-level field", batch([chunk]).setting("doc_id", "d"), expect: ["/doc_id additionalProperties"]),
        SchemaExample(
            .chunkBatchRequest, "nested wrong type", batch([minimalChunk, minimalChunk.setting("seq", "2")]),
            expect: ["/chunks/1/seq type"]
        ),
        SchemaExample(
            .chunkBatchRequest, "violations in several chunks",
            batch([
                minimalChunk.setting("extra", true),
                minimalChunk,
                minimalChunk.removing("text").setting("visibility", "secret"),
                minimalChunk.setting("text", text("a", 20001)),
            ]),
            expect: ["/chunks/0/extra additionalProperties", "/chunks/2/text required", "/chunks/2/visibility enum", "/chunks/3/text maxLength"]
        ),
        SchemaExample(.chunkBatchRequest, "a chunk that is not an object", batch([minimalChunk, 7]), expect: ["/chunks/1 type"]),
    ]

    // MARK: - query-request.v1

    static let question: JSONValue = ["question": "What does the outbox relay do?"]

    static let queryRequest: [SchemaExample] = [
        SchemaExample(.queryRequest, "question only", question),
        SchemaExample(.queryRequest, "all fields", question.setting("top_k", 50).setting("stream", true)),
        SchemaExample(.queryRequest, "smallest top_k", question.setting("top_k", 1)),
        SchemaExample(.queryRequest, "question of exactly 2000 CJK characters", ["question": text("日", 2000)]),
        SchemaExample(.queryRequest, "missing question", ["top_k": 3], expect: ["/question required"]),
        SchemaExample(.queryRequest, "question of 2001 characters", ["question": text("q", 2001)], expect: ["/question maxLength"]),
        SchemaExample(.queryRequest, "empty question", ["question": ""], expect: ["/question minLength"]),
        SchemaExample(.queryRequest, "null question", ["question": nil], expect: ["/question type"]),
        SchemaExample(.queryRequest, "string where integer", question.setting("top_k", "5"), expect: ["/top_k type"]),
        SchemaExample(.queryRequest, "true where integer", question.setting("top_k", true), expect: ["/top_k type"]),
        SchemaExample(.queryRequest, "1.5 where integer", question.setting("top_k", 1.5), expect: ["/top_k type"]),
        SchemaExample(.queryRequest, "top_k 0", question.setting("top_k", 0), expect: ["/top_k minimum"]),
        SchemaExample(.queryRequest, "top_k 51", question.setting("top_k", 51), expect: ["/top_k maximum"]),
        SchemaExample(.queryRequest, "stream as a string", question.setting("stream", "yes"), expect: ["/stream type"]),
        SchemaExample(.queryRequest, "stream as a number", question.setting("stream", 1), expect: ["/stream type"]),
        SchemaExample(.queryRequest, "unknown field", question.setting("user_tier", "enterprise"), expect: ["/user_tier additionalProperties"]),
        SchemaExample(
            .queryRequest, "several violations at once", ["top_k": 100, "stream": "no", "q": "?"],
            expect: ["/question required", "/top_k maximum", "/stream type", "/q additionalProperties"]
        ),
    ]

    // MARK: - Kafka values

    static let events: [SchemaExample] = [
        SchemaExample(.chunkEvent, "full event", chunkEvent),
        SchemaExample(.chunkEvent, "without metadata", chunkEvent.removing("metadata")),
        SchemaExample(.chunkEvent, "missing content_sha256", chunkEvent.removing("content_sha256"), expect: ["/content_sha256 required"]),
        SchemaExample(
            .chunkEvent, "upper-case content_sha256", chunkEvent.setting("content_sha256", .string(sha256.uppercased())),
            expect: ["/content_sha256 pattern"]
        ),
        SchemaExample(.chunkEvent, "short content_sha256", chunkEvent.setting("content_sha256", "abc"), expect: ["/content_sha256 pattern"]),
        SchemaExample(.chunkEvent, "identity in the value", chunkEvent.setting("tenant", "acme"), expect: ["/tenant additionalProperties"]),

        SchemaExample(.queryEvent, "event", queryEvent),
        SchemaExample(.queryEvent, "upper-case UUID", queryEvent.setting("query_id", .string(queryID.uppercased()))),
        SchemaExample(.queryEvent, "query_id not a UUID", queryEvent.setting("query_id", "q-1"), expect: ["/query_id format"]),
        SchemaExample(
            .queryEvent, "query_id without hyphens",
            queryEvent.setting("query_id", .string(queryID.replacingOccurrences(of: "-", with: ""))), expect: ["/query_id format"]
        ),
        SchemaExample(.queryEvent, "defaults not filled in", queryEvent.removing("top_k").removing("stream"), expect: ["/top_k required", "/stream required"]),
        SchemaExample(.queryEvent, "user id in the value", queryEvent.setting("user_id", "u1"), expect: ["/user_id additionalProperties"]),

        SchemaExample(.contextEvent, "event", contextEvent),
        SchemaExample(.contextEvent, "nothing retrieved", contextEvent.setting("chunks", [])),
        SchemaExample(
            .contextEvent, "chunk problems",
            contextEvent.setting("chunks", [contextChunk.setting("score", "high"), contextChunk.removing("chunk_id")]),
            expect: ["/chunks/0/score type", "/chunks/1/chunk_id required"]
        ),
        SchemaExample(.contextEvent, "prompt_hash not hex", contextEvent.setting("prompt_hash", "sha256:abc"), expect: ["/prompt_hash pattern"]),
        SchemaExample(.contextEvent, "51 chunks", contextEvent.setting("chunks", .array(Array(repeating: contextChunk, count: 51))), expect: ["/chunks maxItems"]),

        SchemaExample(.deltaEvent, "event", deltaEvent),
        SchemaExample(.deltaEvent, "empty text", deltaEvent.setting("text", "")),
        SchemaExample(.deltaEvent, "negative index", deltaEvent.setting("index", -1), expect: ["/index minimum"]),
        SchemaExample(.deltaEvent, "missing text", deltaEvent.removing("text"), expect: ["/text required"]),

        SchemaExample(.resultEvent, "answered", resultEvent),
        SchemaExample(.resultEvent, "refused, without citations", resultEvent.setting("status", "refused").setting("answer", "").setting("citations", [])),
        SchemaExample(.resultEvent, "unknown status", resultEvent.setting("status", "ok"), expect: ["/status enum"]),
        SchemaExample(
            .resultEvent, "incomplete usage", resultEvent.setting("usage", ["prompt_tokens": 3]),
            expect: ["/usage/completion_tokens required"]
        ),
        SchemaExample(
            .resultEvent, "citation with an extra field", resultEvent.setting("citations", [citation.setting("text", "…")]),
            expect: ["/citations/0/text additionalProperties"]
        ),
        SchemaExample(.resultEvent, "fractional latency", resultEvent.setting("latency_ms", 12.5), expect: ["/latency_ms type"]),

        SchemaExample(.indexEvent, "indexed", indexEvent),
        SchemaExample(.indexEvent, "unchanged", indexEvent.setting("status", "unchanged").setting("chunks", 0)),
        SchemaExample(.indexEvent, "unknown status", indexEvent.setting("status", "done"), expect: ["/status enum"]),
        SchemaExample(.indexEvent, "negative chunks", indexEvent.setting("chunks", -1), expect: ["/chunks minimum"]),

        SchemaExample(.reviewItem, "item", reviewItem),
        SchemaExample(.reviewItem, "UTC time stamp", reviewItem.setting("sampled_at", "2024-02-29T23:59:59Z")),
        SchemaExample(.reviewItem, "sampled_at not a date-time", reviewItem.setting("sampled_at", "yesterday"), expect: ["/sampled_at format"]),
        SchemaExample(.reviewItem, "sampled_at on 30 February", reviewItem.setting("sampled_at", "2025-02-30T00:00:00Z"), expect: ["/sampled_at format"]),
        SchemaExample(.reviewItem, "sampled_at without offset", reviewItem.setting("sampled_at", "2025-03-01T09:15:00"), expect: ["/sampled_at format"]),
        SchemaExample(
            .reviewItem, "invalid nested result", reviewItem.setting("result", resultEvent.setting("status", "maybe").removing("model")),
            expect: ["/result/status enum", "/result/model required"]
        ),
        SchemaExample(.reviewItem, "missing result", reviewItem.removing("result"), expect: ["/result required"]),
        SchemaExample(.reviewItem, "reason not a code", reviewItem.setting("reason", "Looked odd"), expect: ["/reason pattern"]),
    ]

    static let all: [SchemaExample] = chunkRequest + chunkBatchRequest + queryRequest + events
}
