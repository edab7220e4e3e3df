import Crypto
import Foundation
import Schemas

/// A versioned prompt template (SPEC §8): a text file with `{{context}}` and `{{question}}` placeholders.
/// Its version is the file name without extension (`answer-v1`); its hash, the SHA-256 of its bytes, travels
/// as the `prompt-hash` header, so every answer names exactly the instructions it was produced with.
struct PromptTemplate: Sendable {
    let version: String
    let hash: String
    private let text: String

    /// The bundled `answer-v1` template.
    static func bundled() throws -> PromptTemplate {
        guard let url = Bundle.module.url(forResource: "answer-v1", withExtension: "txt", subdirectory: "Prompts") else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "Prompts/answer-v1.txt"])
        }
        return try PromptTemplate(contentsOf: url)
    }

    init(contentsOf url: URL) throws {
        let data = try Data(contentsOf: url)
        text = String(decoding: data, as: UTF8.self)
        guard text.contains("{{context}}"), text.contains("{{question}}") else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [
                NSFilePathErrorKey: url.path, NSLocalizedDescriptionKey: "a prompt template needs {{context}} and {{question}}",
            ])
        }
        version = url.deletingPathExtension().lastPathComponent
        hash = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// The prompt for `question` over `passages`, numbered from 1 in rank order (the numbers an answer cites).
    func render(question: String, passages: [String], documents: [String]) -> String {
        let context = zip(passages.indices, zip(passages, documents)).map { index, passage in
            "[\(index + 1)] (\(passage.1)) \(passage.0)"
        }.joined(separator: "\n\n")
        return text.replacingOccurrences(of: "{{context}}", with: context)
            .replacingOccurrences(of: "{{question}}", with: question)
    }
}
