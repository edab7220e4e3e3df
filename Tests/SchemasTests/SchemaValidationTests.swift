import Schemas
import Testing

@Suite("Schema validation", .timeLimit(.minutes(1)))
struct SchemaValidationTests {
    @Test("each example gets exactly the expected violations", arguments: SchemaExamples.all)
    func example(_ example: SchemaExample) throws {
        let violations = try bundledSchemas().validate(example.value, against: example.schema)
        #expect(pointersAndKeywords(violations) == example.expected.sorted(), "\(violations)")
    }

    @Test("every schema has a valid example and an invalid one")
    func coverage() {
        for name in SchemaName.allCases {
            let examples = SchemaExamples.all.filter { $0.schema == name }
            #expect(examples.contains(where: { $0.isValid }), "no valid example for \(name.rawValue)")
            #expect(examples.contains(where: { !$0.isValid }), "no invalid example for \(name.rawValue)")
        }
    }

    @Test("violations of a parsed request body carry pointers and human messages")
    func messages() throws {
        let body = try JSONValue.parse(
            #"{"chunks":[{"doc_id":"a","seq":0,"text":"ok","visibility":"public"},"#
                + #"{"doc_id":"b","seq":"1","text":"ok","visibility":"secret","lang":"en"},{"seq":true}]}"#
        )
        let violations = try bundledSchemas().validate(body, against: .chunkBatchRequest)
        let byPointer = Dictionary(grouping: violations, by: \.pointer).mapValues { $0.map(\.message) }
        #expect(byPointer["/chunks/1/seq"] == ["must be an integer"])
        #expect(byPointer["/chunks/1/visibility"] == ["must be one of public, internal, confidential"])
        #expect(byPointer["/chunks/1/lang"] == ["is not allowed (unknown field)"])
        #expect(byPointer["/chunks/2/doc_id"] == ["is required"])
        #expect(byPointer["/chunks/2/text"] == ["is required"])
        #expect(byPointer["/chunks/2/visibility"] == ["is required"])
        #expect(byPointer["/chunks/2/seq"] == ["must be an integer"])
        #expect(violations.count == 7)
    }

    @Test("messages name the limits")
    func limitMessages() throws {
        let schemas = try bundledSchemas()
        let chunk = SchemaExamples.minimalChunk
        func messages(_ value: JSONValue, _ name: SchemaName = .chunkRequest) -> [String] {
            schemas.validate(value, against: name).map(\.description)
        }
        #expect(messages(chunk.setting("text", SchemaExamples.text("a", 20001))) == ["/text must be at most 20000 characters"])
        #expect(messages(chunk.setting("text", "")) == ["/text must be at least 1 character"])
        #expect(messages(chunk.setting("seq", -3)) == ["/seq must be at least 0"])
        #expect(messages(chunk.setting("doc_id", "a b")) == ["/doc_id must match the pattern ^[A-Za-z0-9._:/-]+$"])
        #expect(messages(chunk.setting("metadata", SchemaExamples.metadata(keys: 40))) == ["/metadata must have at most 32 properties"])
        #expect(messages(chunk.setting("metadata", ["a": ["b": 1]])) == ["/metadata/a must be a string, a number, a boolean or null"])
        #expect(messages(SchemaExamples.batch([]), .chunkBatchRequest) == ["/chunks must contain at least 1 item"])
        #expect(messages(SchemaExamples.batch(SchemaExamples.chunks(300)), .chunkBatchRequest) == ["/chunks must contain at most 256 items"])
        #expect(messages(["question": "q", "top_k": 99], .queryRequest) == ["/top_k must be at most 50"])
        #expect(messages([1], .queryRequest) == ["(root) must be an object"])
        #expect(messages(SchemaExamples.queryEvent.setting("query_id", "x"), .queryEvent) == ["/query_id must be a UUID (8-4-4-4-12 hex digits)"])
    }

    @Test("a violation's description puts the pointer before the message")
    func violationDescription() {
        #expect(SchemaViolation(pointer: "/seq", keyword: "type", message: "must be an integer").description == "/seq must be an integer")
        #expect(SchemaViolation(pointer: "", keyword: "type", message: "must be an object").description == "(root) must be an object")
    }

    @Test("validating a full batch of large chunks does not backtrack catastrophically")
    func performance() throws {
        let schemas = try bundledSchemas()
        let body = SchemaExamples.batch(
            (0..<256).map { SchemaExamples.chunk.setting("seq", .integer($0)).setting("text", SchemaExamples.text("ä", 4000)) }
        )
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<10 {
                #expect(schemas.validate(body, against: .chunkBatchRequest).isEmpty)
            }
        }
        // About a millisecond per batch in release builds. Speed is the benchmarks' business; this bound only
        // catches a pattern that backtracks exponentially (minutes), even on a busy machine.
        #expect(elapsed < .seconds(60), "10 validations of a 256-chunk batch took \(elapsed)")
    }
}
