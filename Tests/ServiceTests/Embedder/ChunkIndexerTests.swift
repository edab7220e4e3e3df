@testable import Embedder
import FakeModelServer
import Foundation
import Logging
import ModelClients
import Persistence
import Schemas
import Testing

/// The embedder's batch step against a real Postgres and the fake model server (no Kafka): how a chunk that
/// Postgres refuses is isolated from the rest of its batch.
@Suite("Embedder: batch indexing", .timeLimit(.minutes(2)))
struct ChunkIndexerTests {
    private static func chunk(_ seq: Int, metadataJSON: String = "{}") -> ChunkToIndex {
        let text = "Chunk \(seq) of the batch, about the travel policy."
        return ChunkToIndex(
            chunkID: ChunkID.make(tenant: "acme", docID: "batch-doc", seq: seq, model: "fake-embedding"), docID: "batch-doc", seq: seq,
            text: text, visibility: "public", metadataJSON: metadataJSON, contentSHA256: "\(seq)", tenant: "acme", userID: "tester",
            requestID: nil, traceparent: nil)
    }

    @Test("a chunk Postgres refuses (U+0000 in a jsonb key, SQLSTATE 22P05) is alone rejected; the rest of its batch is stored")
    func isolatesTheRefusedChunk() async throws {
        let url = try await PipelineHarness.freshDatabase()
        let pool = PostgresPool(configuration: .init(connectionString: url, maxConnections: 2))
        _ = try await Migrator(pool: pool).migrate()
        try await FakeModelServer.withRunningServer(configuration: .init(embeddingModels: ["fake-embedding"], defaultDimensions: 384)) { _, endpoints in
            let provider = try OpenAIEmbeddingProvider(configuration: .init(
                baseURL: try #require(endpoints.baseURL), model: "fake-embedding", dimensions: 384))
            let indexer = ChunkIndexer(
                provider: provider,
                store: ChunkStore(pool: pool, model: "fake-embedding", indexEventsTopic: "rag.index-events", indexEventVersion: "1"),
                pendingVectors: VectorCache(), logger: Logger(label: "test"))
            var chunks = (0..<8).map { Self.chunk($0) }
            chunks[5] = Self.chunk(5, metadataJSON: #"{"bad\u0000key": 1}"#)
            let outcomes = await indexer.index(chunks)

            for (index, outcome) in outcomes.enumerated() {
                switch try outcome.get() {
                case .rejected(let error):
                    #expect(index == 5)
                    #expect(error.sqlState == "22P05" && error.isDataRejection, "\(error)")
                case .indexed:
                    #expect(index != 5)
                case .unchanged, .failed:
                    Issue.record("chunk \(index): \(outcome)")
                }
            }
        }
        let stored = try await pool.query("SELECT seq FROM chunks ORDER BY seq").map { try $0.decode(Int.self, at: 0) }
        #expect(stored == [0, 1, 2, 3, 4, 6, 7])
        let reported = try await pool.query("SELECT sum((payload->>'chunks')::int)::int FROM outbox").singleRow().decode(Int.self, at: 0)
        #expect(reported == 7, "the index events report the stored chunks only")
        await pool.close()
    }
}
