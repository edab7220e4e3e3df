import FakeModelServer
import Foundation
import Messaging
import TestSupport
import Testing

/// Re-embedding with a second model (SPEC §7): `ragctl replay` of rag.chunks into an embedder configured with
/// the new model writes rows for it beside the old ones; the rag-chain moves to the new model with one
/// configuration change, and every answer names the embedding model it was built on.
@Suite("re-embedding with a second model", .timeLimit(.minutes(4)))
struct ReEmbeddingTests {
    static let oldModel = "fake-embedding"
    static let newModel = "fake-embedding-v2"

    @Test("replay rag.chunks into an embedder with a second model, switch the rag-chain with RAG_EMBEDDING_MODEL: answers before and after name their model")
    func replayIntoASecondModelAndSwitch() async throws {
        // The extractive answerer (no chat model); the fake server embeds with whatever model is asked for.
        let harness = try await RagChainHarness(provider: .fake(FakeModelServer.Controls()), environment: ["RAG_RETRIEVAL_MIN_SCORE": "0.9"])
        let chunks = QueryPathEndToEndTests.chunks.filter { $0.2 == "public" }
        try await harness.ingest(chunks, tenant: "acme")
        let question = chunks[0].1

        func storedChunkID(_ model: String) async throws -> String {
            try await harness.pool.query("SELECT chunk_id FROM chunks WHERE text = $1 AND model = $2", question, model)
                .singleRow().decode(String.self, at: 0)
        }
        let before = try await harness.answer(try await harness.ask(question, user: "rita", tier: "standard", tenant: "acme"))
        #expect(before.status == "answered" && before.embeddingModel == Self.oldModel)
        #expect(before.citedChunks == [try await storedChunkID(Self.oldModel)])

        // The embedder stops (its group has no members), its group goes back to the start, and it comes back
        // with the second model: every chunk again, as new rows.
        await harness.pipeline.stopEmbedder()
        let replay = try await ProcessRunner.run(GatewayHarness.repositoryRoot + "/.build/debug/ragctl", [
            "replay", "--group", PipelineHarness.embedderGroup, "--topic", harness.gateway.topics.chunks, "--to", "earliest",
            "--bootstrap-servers", harness.gateway.bootstrap,
        ])
        try #require(replay.status == 0, "ragctl replay: \(replay.text)\(replay.errors)")
        try await harness.pipeline.startEmbedder(environment: ["RAG_EMBEDDING_MODEL": Self.newModel])
        try await eventually("rows of the second model", timeout: .seconds(60)) {
            try await harness.pool.query("SELECT count(*) FROM chunks WHERE model = $1", Self.newModel).singleRow().decode(Int.self, at: 0) == chunks.count
        }
        #expect(try await harness.pool.query("SELECT count(*) FROM chunks WHERE model = $1", Self.oldModel).singleRow().decode(Int.self, at: 0)
                == chunks.count, "the first model's rows stay")

        // Until the switch, answers still come from the first model's rows.
        let unchanged = try await harness.answer(try await harness.ask(question, user: "rita", tier: "standard", tenant: "acme"))
        #expect(unchanged.embeddingModel == Self.oldModel && unchanged.citedChunks == before.citedChunks)

        // The switch: one variable.
        await harness.stopRagChain()
        try await harness.startRagChain(environment: ["RAG_EMBEDDING_MODEL": Self.newModel])
        let after = try await harness.answer(try await harness.ask(question, user: "rita", tier: "standard", tenant: "acme"))
        #expect(after.status == "answered" && after.embeddingModel == Self.newModel)
        #expect(after.citedChunks == [try await storedChunkID(Self.newModel)])
        #expect(after.citedChunks != before.citedChunks)
    }
}
