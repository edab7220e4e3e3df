import Foundation
import MiniLM
import Testing

@Suite("MiniLM embedder", .enabled(if: MiniLMTestSupport.runModelTests, MiniLMTestSupport.skipMessage))
struct MiniLMEmbedderTests {
    /// A mix of lengths, from empty to truncated, so that batches pack very different sequences.
    static func sampleTexts() throws -> [String] {
        let golden = try MiniLMTestSupport.golden().items.map(\.text)
        let words = "the quick brown fox jumps over lazy dogs while solar panels convert sunlight".split(separator: " ")
        let generated = (1...20).map { count in (0..<(count * 13)).map { String(words[($0 * 7 + count) % words.count]) }.joined(separator: " ") }
        return golden + generated
    }

    @Test("model facts", .timeLimit(.minutes(1)))
    func facts() throws {
        let embedder = try MiniLMTestSupport.sharedEmbedder()
        #expect(embedder.dimensions == 384)
        #expect(embedder.modelName == "all-MiniLM-L6-v2")
        #expect(MiniLMEmbedder.modelName == "all-MiniLM-L6-v2")
        #expect(embedder.maxSequenceLength == 256)
        #expect(try embedder.embed([]).isEmpty)
    }

    @Test("batched equals one-by-one within 1e-5, for several batch sizes and thread counts", .timeLimit(.minutes(3)))
    func batchedEqualsOneByOne() throws {
        let texts = try Self.sampleTexts()
        let shared = try MiniLMTestSupport.sharedEmbedder()
        let single = try MiniLMEmbedder(modelDirectory: MiniLMTestSupport.modelDirectory, threads: 1)
        let oneByOne = try texts.map { try single.embed($0) }
        for (embedder, batchSize) in [(shared, 32), (shared, 7), (shared, 1), (single, 32), (shared, 1000)] {
            let batched = try embedder.embed(texts, batchSize: batchSize)
            #expect(batched.count == texts.count)
            for index in texts.indices {
                let difference = MiniLMTestSupport.maxAbsDifference(batched[index], oneByOne[index])
                #expect(difference <= 1e-5, "text \(index), batch \(batchSize), \(embedder.threads) threads: |Δ| \(difference)")
            }
        }
    }

    @Test("embeddings are unit length and in input order", .timeLimit(.minutes(2)))
    func unitLengthInOrder() throws {
        let embedder = try MiniLMTestSupport.sharedEmbedder()
        let texts = ["short", String(repeating: "a much longer sentence about embeddings ", count: 20), "", "medium length text here"]
        let vectors = try embedder.embed(texts, batchSize: 2)
        for (text, vector) in zip(texts, vectors) {
            let norm = vector.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
            #expect(MiniLMTestSupport.maxAbsDifference(vector, try embedder.embed(text)) <= 1e-5)
        }
    }

    @Test("concurrent calls from many threads agree", .timeLimit(.minutes(2)))
    func concurrentCalls() async throws {
        let embedder = try MiniLMTestSupport.sharedEmbedder()
        let texts = try Self.sampleTexts()
        let expected = try embedder.embed(texts)
        let results = await withTaskGroup(of: (Int, [[Float]]?).self) { group in
            for task in 0..<4 {
                group.addTask {
                    // Off the cooperative pool is the documented way; a short test can afford it here.
                    (task, try? embedder.embed(texts, batchSize: 3 + task * 5))
                }
            }
            var collected: [(Int, [[Float]]?)] = []
            for await result in group { collected.append(result) }
            return collected
        }
        for (task, vectors) in results {
            let vectors = try #require(vectors, "task \(task) failed")
            for index in texts.indices {
                #expect(MiniLMTestSupport.maxAbsDifference(vectors[index], expected[index]) <= 1e-5, "task \(task), text \(index)")
            }
        }
    }

    @Test("invalid arguments throw", .timeLimit(.minutes(1)))
    func invalidArguments() throws {
        let embedder = try MiniLMTestSupport.sharedEmbedder()
        let error = #expect(throws: MiniLMError.self) { try embedder.embed(["x"], batchSize: 0) }
        #expect(error?.code == .invalidArgument)
        let threadsError = #expect(throws: MiniLMError.self) {
            try MiniLMEmbedder(modelDirectory: MiniLMTestSupport.modelDirectory, threads: 0)
        }
        #expect(threadsError?.code == .invalidArgument)
    }
}
