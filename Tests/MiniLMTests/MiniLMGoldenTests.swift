import MiniLM
import Testing

/// The embedder against the reference output of sentence-transformers (`minilm-golden.json`).
@Suite("MiniLM golden", .enabled(if: MiniLMTestSupport.runModelTests, MiniLMTestSupport.skipMessage))
struct MiniLMGoldenTests {
    @Test("every golden item: identical input_ids, max |Δ| ≤ 1e-4, cosine ≥ 0.99999", .timeLimit(.minutes(3)))
    func everyItemMatchesReference() throws {
        let embedder = try MiniLMTestSupport.sharedEmbedder()
        let golden = try MiniLMTestSupport.golden()
        try #require(golden.items.count >= 24, "golden file has \(golden.items.count) items")

        let vectors = try embedder.embed(golden.items.map(\.text))
        try #require(vectors.count == golden.items.count)
        for (index, (item, vector)) in zip(golden.items, vectors).enumerated() {
            let label = "item \(index) \(item.text.prefix(40).debugDescription)"
            #expect(embedder.tokenize(item.text) == item.input_ids, "input_ids differ for \(label)")
            #expect(vector.count == 384, "\(label)")
            let difference = MiniLMTestSupport.maxAbsDifference(vector, item.embedding)
            #expect(difference <= 1e-4, "max |Δ| \(difference) for \(label)")
            let cosine = MiniLMTestSupport.cosine(vector, item.embedding)
            #expect(cosine >= 0.99999, "cosine \(cosine) for \(label)")
        }
    }

    @Test("each golden item embedded alone also matches", .timeLimit(.minutes(3)))
    func everyItemAloneMatchesReference() throws {
        let embedder = try MiniLMTestSupport.sharedEmbedder()
        for (index, item) in try MiniLMTestSupport.golden().items.enumerated() {
            let vector = try embedder.embed(item.text)
            let difference = MiniLMTestSupport.maxAbsDifference(vector, item.embedding)
            #expect(difference <= 1e-4, "max |Δ| \(difference) for item \(index)")
        }
    }

    @Test("pairwise cosine matrix matches the reference", .timeLimit(.minutes(3)))
    func cosineMatrixMatches() throws {
        let embedder = try MiniLMTestSupport.sharedEmbedder()
        let golden = try MiniLMTestSupport.golden()
        let vectors = try embedder.embed(golden.items.map(\.text))
        for row in vectors.indices {
            for column in vectors.indices {
                let cosine = MiniLMTestSupport.cosine(vectors[row], vectors[column])
                #expect(abs(cosine - golden.cosine[row][column]) <= 1e-4, "cosine[\(row)][\(column)]")
            }
        }
    }
}
