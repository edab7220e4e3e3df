import Foundation
import MiniLM
import Testing

/// Missing and corrupt model files must fail with a thrown error naming the path, never crash.
@Suite("MiniLM model loading")
struct ModelLoadingTests {
    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("minilm-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A copy of the real model directory's small files, with `model.safetensors` replaced by `weights`.
    static func modelCopy(weights: Data?, tokenizer: Data? = nil, config: Data? = nil) throws -> String {
        let source = MiniLMTestSupport.modelDirectory
        let directory = try temporaryDirectory()
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory + "/1_Pooling", withIntermediateDirectories: true)
        for file in ["tokenizer.json", "config.json", "1_Pooling/config.json", "sentence_bert_config.json"] {
            try manager.copyItem(atPath: source + "/" + file, toPath: directory + "/" + file)
        }
        if let tokenizer { try tokenizer.write(to: URL(fileURLWithPath: directory + "/tokenizer.json")) }
        if let config { try config.write(to: URL(fileURLWithPath: directory + "/config.json")) }
        if let weights {
            try weights.write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
        } else {
            try manager.createSymbolicLink(atPath: directory + "/model.safetensors", withDestinationPath: source + "/model.safetensors")
        }
        return directory
    }

    static func loadError(_ directory: String) -> MiniLMError? {
        #expect(throws: MiniLMError.self) { try MiniLMEmbedder(modelDirectory: directory, threads: 1) }
    }

    @Test("a missing directory is .modelNotFound naming the directory", .timeLimit(.minutes(1)))
    func missingDirectory() {
        let path = "/nonexistent/minilm-\(UUID().uuidString)"
        let error = Self.loadError(path)
        #expect(error?.code == .modelNotFound)
        #expect(error?.path == path)
        #expect(error.map { "\($0)" }?.contains(path) == true)
    }

    @Test("the model directory resolves from the environment", .timeLimit(.minutes(1)))
    func resolveDirectory() {
        #expect(MiniLMEmbedder.resolveModelDirectory(environment: [:]) == ".data/models/all-MiniLM-L6-v2")
        #expect(MiniLMEmbedder.resolveModelDirectory(environment: ["RAG_MINILM_MODEL_DIR": ""]) == ".data/models/all-MiniLM-L6-v2")
        #expect(MiniLMEmbedder.resolveModelDirectory(environment: ["RAG_MINILM_MODEL_DIR": "/models/minilm"]) == "/models/minilm")
    }

    @Test("an empty directory names the first missing file", .timeLimit(.minutes(1)))
    func emptyDirectory() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = Self.loadError(directory)
        #expect(error?.code == .modelNotFound)
        #expect(error?.path == directory + "/config.json")
    }

    @Test(
        "corrupt or truncated files are .invalidModelFile naming the file",
        .enabled(if: MiniLMTestSupport.runModelTests, MiniLMTestSupport.skipMessage), .timeLimit(.minutes(1)))
    func corruptFiles() throws {
        let realWeights = MiniLMTestSupport.modelDirectory + "/model.safetensors"
        let handle = try #require(FileHandle(forReadingAtPath: realWeights))
        let head = handle.readData(ofLength: 1 << 20)
        try handle.close()

        let truncated = try Self.modelCopy(weights: head)
        let garbage = try Self.modelCopy(weights: Data("this is not a safetensors file at all".utf8))
        let tiny = try Self.modelCopy(weights: Data([1, 2, 3]))
        var badHeader = Data([UInt8](repeating: 0, count: 8))
        badHeader[0] = 5
        badHeader.append(Data("{\"a\":".utf8))
        let unparsable = try Self.modelCopy(weights: badHeader)
        let badTokenizer = try Self.modelCopy(weights: nil, tokenizer: Data("{\"model\": 42".utf8))
        let badConfig = try Self.modelCopy(weights: nil, config: Data("[]".utf8))
        defer {
            for directory in [truncated, garbage, tiny, unparsable, badTokenizer, badConfig] {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
        for directory in [truncated, garbage, tiny, unparsable] {
            let error = Self.loadError(directory)
            #expect(error?.code == .invalidModelFile, "\(directory)")
            #expect(error?.path == directory + "/model.safetensors")
        }
        let tokenizerError = Self.loadError(badTokenizer)
        #expect(tokenizerError?.code == .invalidModelFile)
        #expect(tokenizerError?.path == badTokenizer + "/tokenizer.json")
        let configError = Self.loadError(badConfig)
        #expect(configError?.code == .invalidModelFile)
        #expect(configError?.path == badConfig + "/config.json")
    }

    @Test("a missing model.safetensors is .modelNotFound naming it", .enabled(if: MiniLMTestSupport.runModelTests, MiniLMTestSupport.skipMessage), .timeLimit(.minutes(1)))
    func missingWeights() throws {
        let directory = try Self.modelCopy(weights: nil)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.removeItem(atPath: directory + "/model.safetensors")
        let error = Self.loadError(directory)
        #expect(error?.code == .modelNotFound)
        #expect(error?.path == directory + "/model.safetensors")
    }
}
