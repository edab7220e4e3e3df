import Foundation
import Schemas
import Testing

@Suite("Message types")
struct SchemaMessageTests {
    static let queryID = "0f8fad5b-d9cb-469f-a165-70867728950e"
    static let hash = String(repeating: "ab", count: 32)
    static let result = ResultEvent(
        queryID: queryID, status: .answered, answer: "25 days [1].",
        citations: [Citation(chunkID: "c-1", docID: "handbook", score: 0.82)], model: "extractive-v1", promptVersion: "answer-v1",
        usage: TokenUsage(promptTokens: 120, completionTokens: 8), latencyMilliseconds: 42)

    /// Encodes, checks the JSON against the type's schema, decodes and compares.
    private func roundTrip<Message: SchemaMessage & Equatable>(_ message: Message) throws {
        let schemas = try bundledSchemas()
        let bytes = message.encoded()
        let violations = schemas.validate(try JSONValue.parse(bytes), against: Message.schema)
        #expect(violations.isEmpty, "\(Message.self): \(violations) in \(String(decoding: bytes, as: UTF8.self))")
        #expect(try Message.decode(bytes, schemas: schemas) == message)
    }

    @Test("every message type encodes to JSON its schema accepts and decodes back to itself")
    func everyTypeRoundTrips() throws {
        var metadata = JSONObject()
        metadata["source"] = .string("wiki")
        metadata["page"] = .integer(12)
        metadata["weight"] = .double(0.5)
        metadata["draft"] = .bool(false)
        metadata["owner"] = .null
        try roundTrip(ChunkEvent(docID: "handbook", seq: 3, text: "Vacation: 25 days.", visibility: "internal", metadata: metadata,
                                 contentSHA256: Self.hash))
        try roundTrip(ChunkEvent(docID: "handbook", seq: 0, text: "No metadata.", visibility: "public", contentSHA256: Self.hash))
        try roundTrip(QueryEvent(queryID: Self.queryID, question: "How many vacation days?", topK: 5, stream: true))
        try roundTrip(IndexEvent(docID: "handbook", chunks: 4, model: "all-MiniLM-L6-v2", status: .indexed))
        try roundTrip(ContextEvent(queryID: Self.queryID,
                                   chunks: [RetrievedChunk(chunkID: "c-1", docID: "handbook", seq: 3, score: 0.82, text: "Vacation: 25 days.")],
                                   prompt: "Answer from the context…", model: "gpt-x", promptVersion: "answer-v1", promptHash: Self.hash))
        try roundTrip(DeltaEvent(queryID: Self.queryID, index: 0, text: "25"))
        try roundTrip(Self.result)
        try roundTrip(ReviewItem(queryID: Self.queryID, reason: "refused", result: Self.result, contextRef: "rag.context/0/17",
                                 sampledAt: Date(timeIntervalSince1970: 1_790_000_000.25)))
    }

    @Test("metadata keeps integers as integers")
    func metadataIsExact() throws {
        var metadata = JSONObject()
        metadata["b"] = .integer(1)
        metadata["a"] = .double(1.5)
        let event = ChunkEvent(docID: "d", seq: 0, text: "t", visibility: "public", metadata: metadata, contentSHA256: Self.hash)
        let json = try JSONValue.parse(event.encoded())
        #expect(json["metadata"] == .object(metadata), "\(String(decoding: event.encoded(), as: UTF8.self))")
        #expect(String(decoding: event.encoded(), as: UTF8.self).contains(#""b":1"#), "not 1.0")
    }

    @Test("bytes that are not JSON, or break the schema, are rejected naming every violation")
    func invalidValuesAreRejected() throws {
        let schemas = try bundledSchemas()
        let notJSON = #expect(throws: MessageDecodingError.self) { try QueryEvent.decode(Array("{".utf8), schemas: schemas) }
        #expect(notJSON?.kind == .notJSON)
        let invalid = #expect(throws: MessageDecodingError.self) {
            try QueryEvent.decode(Array(#"{"query_id":"nope","question":"","top_k":500,"stream":true,"extra":1}"#.utf8), schemas: schemas)
        }
        #expect(invalid?.kind == .schemaViolation)
        let pointers = Set(invalid?.violations.map(\.pointer) ?? [])
        #expect(pointers.isSuperset(of: ["/query_id", "/top_k"]), "\(pointers)")
    }
}
