import Foundation
import MetricsTestKit
import MiniLM
import ModelClients
import Testing

@Suite("MiniLMEmbeddingProvider", .enabled(if: MiniLMModel.runTests, MiniLMModel.skipMessage), .timeLimit(.minutes(1)))
struct MiniLMEmbeddingProviderTests {
    private func provider(maxBatchSize: Int = 32, inferenceThreads: Int = 1) throws -> MiniLMEmbeddingProvider {
        MiniLMEmbeddingProvider(embedder: try MiniLMModel.embedder.get(), maxBatchSize: maxBatchSize, inferenceThreads: inferenceThreads)
    }

    @Test("the same vectors as MiniLMEmbedder, in order, computed on the dedicated inference thread")
    func matchesTheEmbedder() async throws {
        let embedder = try MiniLMModel.embedder.get()
        let provider = try provider(maxBatchSize: 4)
        #expect(provider.model == "all-MiniLM-L6-v2")
        #expect(provider.dimensions == 384)
        #expect(provider.maxBatchSize == 4)
        #expect(provider.providerName == "minilm")

        // More texts than one batch, of different lengths (the embedder sorts by length internally).
        let texts = [
            "Kafka decouples producers from slow consumers.",
            "hi",
            "Postgres with pgvector stores the embeddings and answers nearest-neighbour queries with an HNSW index.",
            "A circuit breaker stops calls to a failing provider.",
            "ünïcödé text",
            "The embedder worker consumes rag.chunks.",
        ]
        let vectors = try await provider.embed(texts)
        let expected = try embedder.embed(texts, batchSize: 4)
        #expect(vectors.count == texts.count)
        for (vector, reference) in zip(vectors, expected) {
            #expect(vector.count == 384)
            #expect(EmbeddingTestSupport.maxAbsDifference(vector, reference) < 1e-6)
            #expect(abs(EmbeddingTestSupport.norm(vector) - 1) < 1e-4)
        }
        // The work ran as one job of the provider's own thread pool — not on the cooperative pool.
        #expect(provider.inferencePool.completedJobs == 1)
        #expect(provider.inferencePool.threadCount == 1)
        let thread = try await provider.inferencePool.run { DedicatedThreadPool.currentThreadName }
        #expect(thread == "rag-minilm-0")
        #expect(try await provider.embed([]).isEmpty)
    }

    @Test("concurrent calls each get their own texts' vectors")
    func concurrentCalls() async throws {
        let embedder = try MiniLMModel.embedder.get()
        let provider = try provider(inferenceThreads: 2)
        let batches = (0..<4).map { batch in (0..<3).map { "batch \(batch) sentence \($0) about retrieval" } }
        let results = try await withThrowingTaskGroup(of: (Int, [[Float]]).self) { group in
            for (index, batch) in batches.enumerated() {
                group.addTask { (index, try await provider.embed(batch)) }
            }
            return try await group.reduce(into: [Int: [[Float]]]()) { $0[$1.0] = $1.1 }
        }
        for (index, batch) in batches.enumerated() {
            let expected = try embedder.embed(batch)
            let vectors = try #require(results[index])
            #expect(zip(vectors, expected).allSatisfy { EmbeddingTestSupport.maxAbsDifference($0, $1) < 1e-5 })
        }
        #expect(provider.inferencePool.completedJobs == 4)
    }

    @Test("wrapped for resilience, it labels its metrics minilm")
    func resilientWrapper() async throws {
        let metrics = TestMetrics()
        let resilient = ResilientEmbeddingProvider(wrapping: try provider(), metricsFactory: metrics)
        let vectors = try await resilient.embed(["one", "two"])
        #expect(vectors.count == 2)
        #expect(metrics.total("rag_embedding_calls_total", [("provider", "minilm"), ("model", "all-MiniLM-L6-v2"), ("outcome", "success")]) == 1)
    }

    @Test("a missing model directory is a clear error")
    func missingModel() {
        #expect(throws: MiniLMError.self) {
            _ = try MiniLMEmbeddingProvider(modelDirectory: "/nonexistent/minilm")
        }
    }
}

@Suite("MiniLM model presence for ModelClients")
struct MiniLMProviderModelPresenceTests {
    @Test("the model is present when CI is set")
    func modelPresentInCI() {
        if MiniLMModel.isCI {
            #expect(MiniLMModel.available, "CI is set but the MiniLM model is missing at \(MiniLMModel.directory): run `make deps`")
        }
    }
}
