import FakeModelServer
import Foundation
import Messaging
import Persistence
import Schemas
import TestSupport
import Testing

/// rag-chain with a chat model: the fake OpenAI-compatible server answers, streaming its tokens.
@Suite("rag-chain: answers from a chat model", .timeLimit(.minutes(5)))
struct RagChainModelTests {
    static let chunks = [
        ("handbook", "Employees receive twenty-five days of paid vacation per year; contact hr@example.com for details.", "public"),
        ("zebra", "The zebra crossing outside the office is repainted every spring.", "public"),
        ("parking", "Parking permits are issued by the facilities team.", "public"),
    ]

    @Test("the answer streams to rag.answer-deltas in order, cites the retrieved chunk, and masks PII in what the model sees")
    func streamedAnswer() async throws {
        let controls = FakeModelServer.Controls(tokenDelayMilliseconds: 5, answerTemplate: "According to the handbook it is twenty-five days [1].")
        let harness = try await RagChainHarness(provider: .fake(controls), environment: Self.chatEnvironment)
        try await harness.ingest(Self.chunks, tenant: "acme")
        let queryID = try await harness.ask(Self.chunks[0].1, user: "carol", tier: "free", tenant: "acme", stream: true)
        let answer = try await harness.answer(queryID)
        #expect(answer.status == "answered" && answer.model == "fake-chat")
        #expect(answer.answer == "According to the handbook it is twenty-five days [1].")
        #expect(answer.citedChunks == [try await harness.chunkID(ofText: Self.chunks[0].1)])

        let deltas = try await harness.gateway.records(harness.gateway.topics.answerDeltas, count: 1)
        try await Task.sleep(for: .seconds(1))
        let all = try await harness.gateway.records(harness.gateway.topics.answerDeltas, count: deltas.count)
            .filter { $0.keyString == queryID }.sorted { $0.offset < $1.offset }
        let events = try all.map { try DeltaEvent.decode($0.value ?? [], schemas: SchemaRegistry.bundled()) }
        #expect(events.map(\.index) == Array(0..<events.count), "indexes in offset order")
        #expect(events.map(\.text).joined() == answer.answer)
        #expect(all.allSatisfy { $0.headers.value("user-id") == "carol" && $0.headers.value("tenant") == "acme" })

        let context = try #require(try await harness.gateway.records(harness.gateway.topics.context, count: 1).first { $0.keyString == queryID })
        let event = try ContextEvent.decode(context.value ?? [], schemas: SchemaRegistry.bundled())
        #expect(event.prompt.contains("[EMAIL]") && !event.prompt.contains("hr@example.com"), "PII masked before it leaves")
        #expect(event.chunks.map(\.docID) == ["handbook"] && event.promptVersion == "answer-v1")
        #expect(context.headers.value("prompt-hash") == event.promptHash)
    }

    @Test("output that fails validation is asked for again, then the query goes to rag.dlq with the raw output; other queries are unaffected")
    func malformedOutput() async throws {
        let controls = FakeModelServer.Controls(answerTemplate: "Certainly [1].", cannedAnswers: ["zebra": "I refuse to cite anything."])
        let harness = try await RagChainHarness(provider: .fake(controls), environment: Self.chatEnvironment.merging(["RAG_ANSWER_ATTEMPTS": "3"]) { $1 })
        let server = try #require(harness.pipeline.fakeServer)
        try await harness.ingest(Self.chunks, tenant: "acme")
        let poisonID = try await harness.ask(Self.chunks[1].1, user: "dave", tier: "free", tenant: "acme")
        let goodIDs = [
            try await harness.ask(Self.chunks[0].1, user: "dave", tier: "free", tenant: "acme"),
            try await harness.ask(Self.chunks[2].1, user: "dave", tier: "free", tenant: "acme"),
        ]
        for id in goodIDs { #expect(try await harness.answer(id).status == "answered") }
        let poison = try await harness.answer(poisonID)
        #expect(poison.status == "failed")

        let letter = try #require(try await harness.gateway.records(harness.gateway.topics.deadLetters, count: 1).first)
        #expect(letter.keyString == poisonID)
        #expect(letter.headers.value("dlq-stage") == "rag-chain" && letter.headers.value("dlq-reason") == "invalid_model_output")
        #expect(letter.headers.value("model-output") == "I refuse to cite anything.")
        #expect(letter.headers.value("model-version") == "fake-chat" && letter.headers.value("prompt-id")?.hasPrefix("answer-v1@") == true)
        #expect(letter.headers.value("original-topic") == harness.gateway.topics.queries && letter.headers.value("original-offset") != nil)
        #expect(server.stats.requests["chat_completions"] ?? 0 == 3 + 2, "three attempts for the poison, one for each other query")
        try await eventually("every query committed") { try await harness.committedQueries() == 3 }
    }

    static let chatEnvironment = ["RAG_RETRIEVAL_MIN_SCORE": "0.9", "RAG_CHAT_PROVIDER": "openai", "RAG_CHAT_MODEL": "fake-chat"]
}
