import Foundation
import MiniLM
import Testing

/// Locations and shared fixtures for the MiniLM tests.
enum MiniLMTestSupport {
    /// The repository root, from this file's location (`<repo>/Tests/MiniLMTests/…`).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// `$RAG_MINILM_MODEL_DIR`, else `<repo>/.data/models/all-MiniLM-L6-v2`.
    static let modelDirectory: String = {
        if let override = environment[MiniLMEmbedder.modelDirectoryEnvironmentKey], !override.isEmpty { return override }
        return repositoryRoot.appendingPathComponent(MiniLMEmbedder.defaultModelDirectory).path
    }()

    /// `$RAG_MINILM_GOLDEN`, else the copy in the repository (`Tests/MiniLMTests/Golden`).
    static let goldenPath: String = {
        if let override = environment["RAG_MINILM_GOLDEN"], !override.isEmpty { return override }
        return repositoryRoot.appendingPathComponent("Tests/MiniLMTests/Golden/minilm-golden.json").path
    }()

    static let modelAvailable = FileManager.default.fileExists(atPath: modelDirectory + "/model.safetensors")
    static let isCI = !(environment["CI"] ?? "").isEmpty
    /// Model-dependent tests run when the model is there, and always in CI (where a missing model fails
    /// them instead of silently skipping).
    static let runModelTests = modelAvailable || isCI

    static let skipMessage: Comment = "MiniLM model not found (run `make deps` or set RAG_MINILM_MODEL_DIR); skipped outside CI"

    /// One embedder shared by the tests (it is thread-safe). Loaded on first use.
    static let embedder: Result<MiniLMEmbedder, any Error> = Result { try MiniLMEmbedder(modelDirectory: modelDirectory, threads: 2) }

    static func sharedEmbedder() throws -> MiniLMEmbedder {
        try embedder.get()
    }

    struct Golden: Decodable {
        struct Item: Decodable {
            let text: String
            let input_ids: [Int32]
            let embedding: [Float]
        }
        let items: [Item]
        let cosine: [[Double]]
    }

    static func golden() throws -> Golden {
        let data = try #require(FileManager.default.contents(atPath: goldenPath), "golden file missing at \(goldenPath)")
        return try JSONDecoder().decode(Golden.self, from: data)
    }

    static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, normA = 0.0, normB = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y)
            normA += Double(x) * Double(x)
            normB += Double(y) * Double(y)
        }
        return dot / (normA.squareRoot() * normB.squareRoot())
    }
}

@Suite("MiniLM model presence")
struct MiniLMModelPresenceTests {
    @Test("the model is present when CI is set", .timeLimit(.minutes(1)))
    func modelPresentInCI() {
        if MiniLMTestSupport.isCI {
            #expect(
                MiniLMTestSupport.modelAvailable,
                "CI is set but the MiniLM model is missing at \(MiniLMTestSupport.modelDirectory): run `make deps`")
        }
    }
}
