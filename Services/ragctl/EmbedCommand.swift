import ArgumentParser
import Foundation
import MiniLM

/// `ragctl embed`: embeds JSON-lines texts with the in-process all-MiniLM-L6-v2 model.
///
/// Reads `{"text": "…"}` per line on stdin and writes `{"input_ids": […], "embedding": […]}` per line on
/// stdout, in input order. Input is processed in groups of several batches, so output streams and memory
/// stays bounded; blank lines are skipped. A line that is not such an object stops the command with an
/// error naming its line number and a non-zero exit; lines of earlier groups have already been written.
struct EmbedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed JSON lines {\"text\": …} from stdin with the in-process all-MiniLM-L6-v2 model.",
        discussion: """
        Writes one JSON object per input line to stdout: {"input_ids": [...], "embedding": [...]}
        (token ids after truncation to 256, and the 384-dimensional unit-length embedding).
        """
    )

    @Option(help: "Model directory (default: $RAG_MINILM_MODEL_DIR, else .data/models/all-MiniLM-L6-v2).")
    var modelDir: String?

    @Option(help: "Worker threads for inference.")
    var threads = 2

    @Option(help: "Texts per inference batch.")
    var batchSize = 32

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() async throws {
        let directory = modelDir ?? MiniLMEmbedder.resolveModelDirectory()
        let threads = threads, batchSize = batchSize
        // Inference is blocking CPU work: run it on a thread of its own, not on the cooperative pool.
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let worker = Thread {
                continuation.resume(with: Result {
                    let embedder = try MiniLMEmbedder(modelDirectory: directory, threads: threads)
                    try Self.process(embedder: embedder, batchSize: batchSize)
                })
            }
            worker.name = "ragctl-embed"
            worker.start()
        }
    }

    /// A line of input that is not `{"text": "…"}`.
    struct BadLine: Error, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "stdin line \(line): \(reason); expected a JSON object {\"text\": \"…\"}" }
    }

    private struct Input: Decodable {
        let text: String
    }

    private static func process(embedder: MiniLMEmbedder, batchSize: Int) throws {
        let groupSize = batchSize * 8
        let decoder = JSONDecoder()
        var lineNumber = 0
        var texts: [String] = []
        var reachedEnd = false
        while !reachedEnd {
            texts.removeAll(keepingCapacity: true)
            while texts.count < groupSize {
                guard let line = readLine(strippingNewline: true) else {
                    reachedEnd = true
                    break
                }
                lineNumber += 1
                if line.allSatisfy(\.isWhitespace) { continue }
                do {
                    texts.append(try decoder.decode(Input.self, from: Data(line.utf8)).text)
                } catch let DecodingError.keyNotFound(key, _) {
                    throw BadLine(line: lineNumber, reason: "missing key \"\(key.stringValue)\"")
                } catch let DecodingError.typeMismatch(_, context) {
                    throw BadLine(line: lineNumber, reason: "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: ".").isEmpty ? "top level" : context.codingPath.map(\.stringValue).joined(separator: "."))")
                } catch {
                    throw BadLine(line: lineNumber, reason: "not valid JSON")
                }
            }
            guard !texts.isEmpty else { continue }
            let vectors = try embedder.embed(texts, batchSize: batchSize)
            var output = ""
            output.reserveCapacity(texts.count * 5_000)
            for (text, vector) in zip(texts, vectors) {
                output += "{\"input_ids\":["
                output += embedder.tokenize(text).map(String.init).joined(separator: ",")
                output += "],\"embedding\":["
                output += vector.map { "\($0)" }.joined(separator: ",")
                output += "]}\n"
            }
            FileHandle.standardOutput.write(Data(output.utf8))
        }
    }
}
