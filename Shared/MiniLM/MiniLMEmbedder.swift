import CMiniLM
import Foundation
import Synchronization

/// all-MiniLM-L6-v2 sentence embeddings computed in-process: WordPiece tokenizer, 6-layer BERT encoder
/// (matrix products through OpenBLAS `cblas_sgemm`, those of a query's few tokens through a kernel of its
/// own, AVX2 or, where the CPU has it, AVX-512), mean pooling and L2 normalisation. Vectors match the sentence-transformers reference
/// (`model.encode`) to about 1e-6.
///
/// Model files come from a directory holding `model.safetensors`, `tokenizer.json`, `config.json` and
/// `1_Pooling/config.json` (optionally `sentence_bert_config.json`); see ``resolveModelDirectory(environment:)``.
///
/// Thread safety: the embedder is immutable after `init` and may be shared and called from any number
/// of threads at once. Each ``embed(_:batchSize:)`` call borrows scratch memory from an internal pool
/// and uses up to ``threads`` threads of its own. Calls are synchronous and CPU-bound: from Swift
/// concurrency, run them on a dedicated thread or queue rather than on the cooperative pool.
///
/// OpenBLAS: `init` sets OpenBLAS to one thread per call (`openblas_set_num_threads(1)`, process-wide)
/// because the parallelism is the embedder's own — whole sequences per worker for batches, output
/// columns and attention heads per worker for a single text.
public final class MiniLMEmbedder: Sendable {
    /// The model this type implements.
    public static let modelName = "all-MiniLM-L6-v2"
    /// The environment variable that overrides the model directory.
    public static let modelDirectoryEnvironmentKey = "RAG_MINILM_MODEL_DIR"
    /// The directory `make deps` extracts the model into, relative to the repository root.
    public static let defaultModelDirectory = ".data/models/all-MiniLM-L6-v2"

    /// The model name, ``modelName``.
    public var modelName: String { Self.modelName }
    /// Length of every embedding vector (384).
    public let dimensions: Int
    /// Maximum tokens per text including `[CLS]` and `[SEP]` (256); longer texts are truncated.
    public let maxSequenceLength: Int
    /// Worker threads used by one ``embed(_:batchSize:)`` call.
    public let threads: Int
    /// The directory the model was loaded from.
    public let modelDirectory: String

    private let tokenizer: WordPieceTokenizer
    private let encoder: BertEncoder
    private let scratch = Mutex(ScratchPool())
    /// Tokens per packed chunk: large enough for efficient matrix products, small enough to stay in cache.
    private let chunkTokenCapacity: Int

    /// The BLAS library in use and the kernel family it selected for this CPU, for logs (e.g. "OpenBLAS 0.3.21 …
    /// (kernels: Cooperlake)"). `OPENBLAS_CORETYPE` (e.g. `Haswell`) overrides OpenBLAS's choice.
    public static var blasDescription: String {
        let configuration = openblas_get_config().map { String(cString: $0) } ?? "OpenBLAS"
        let kernels = openblas_get_corename().map { String(cString: $0) } ?? "unknown"
        return "\(configuration.trimmingCharacters(in: .whitespaces)) (kernels: \(kernels))"
    }

    /// The instruction set of the encoder's own kernels: AVX-512 where the CPU has it (unless `RAG_MINILM_AVX512=0`),
    /// else AVX2.
    public static var kernelDescription: String { MathKernels.avx512 ? "AVX-512" : "AVX2" }

    /// The model directory to use: `$RAG_MINILM_MODEL_DIR` when set and non-empty, else
    /// ``defaultModelDirectory`` (relative to the current directory, normally the repository root).
    /// - Parameter environment: the variables to consult; nil (the default) means this process's environment.
    public static func resolveModelDirectory(environment: [String: String]? = nil) -> String {
        let environment = environment ?? ProcessInfo.processInfo.environment
        if let override = environment[modelDirectoryEnvironmentKey], !override.isEmpty { return override }
        return defaultModelDirectory
    }

    /// Loads the model from `modelDirectory` (default: ``resolveModelDirectory(environment:)``).
    ///
    /// - Parameter threads: worker threads per ``embed(_:batchSize:)`` call, at least 1.
    /// - Throws: ``MiniLMError`` naming the offending path when the directory or a file is missing
    ///   (`.modelNotFound`), malformed or truncated (`.invalidModelFile`), or describes another
    ///   architecture (`.unsupportedModel`).
    public init(modelDirectory: String = MiniLMEmbedder.resolveModelDirectory(), threads: Int = 2) throws {
        guard threads >= 1 else {
            throw MiniLMError(.invalidArgument, "threads must be at least 1, got \(threads)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw MiniLMError(
                .modelNotFound, path: modelDirectory,
                "model directory not found (run `make deps`, or set \(Self.modelDirectoryEnvironmentKey))")
        }
        let configuration = try BertConfiguration(directory: modelDirectory)
        let tokenizer = try WordPieceTokenizer(
            path: modelDirectory + "/tokenizer.json", expectedVocabularySize: configuration.vocabularySize)
        let weights = try SafeTensorsFile(path: modelDirectory + "/model.safetensors")
        self.encoder = try BertEncoder(file: weights, configuration: configuration)
        self.tokenizer = tokenizer
        self.dimensions = configuration.hiddenSize
        self.maxSequenceLength = configuration.maxSequenceLength
        self.threads = threads
        self.modelDirectory = modelDirectory
        self.chunkTokenCapacity = max(512, configuration.maxSequenceLength)
        openblas_set_num_threads(1)
    }

    /// Token ids the model sees for `text`: `[CLS]`, WordPiece ids truncated to fit ``maxSequenceLength``, `[SEP]`.
    public func tokenize(_ text: String) -> [Int32] {
        tokenizer.encode(text, maxLength: maxSequenceLength)
    }

    /// Unit-length embeddings of `texts`, in input order.
    ///
    /// Texts are tokenized, sorted by length and run in batches of `batchSize` similar-length texts;
    /// within a batch the sequences are packed end to end (no padding tokens are computed). Results do
    /// not depend on `batchSize` beyond float rounding (≈1e-7).
    /// - Throws: ``MiniLMError`` `.invalidArgument` if `batchSize < 1`.
    public func embed(_ texts: [String], batchSize: Int = 32) throws -> [[Float]] {
        guard batchSize >= 1 else {
            throw MiniLMError(.invalidArgument, "batchSize must be at least 1, got \(batchSize)")
        }
        let sequences = texts.map { tokenizer.encode($0, maxLength: maxSequenceLength) }
        return embed(tokenized: sequences, batchSize: batchSize)
    }

    /// The embedding of one text.
    public func embed(_ text: String) throws -> [Float] {
        try embed([text], batchSize: 1)[0]
    }

    private func embed(tokenized sequences: [[Int32]], batchSize: Int) -> [[Float]] {
        guard !sequences.isEmpty else { return [] }
        let order = sequences.indices.sorted { sequences[$0].count > sequences[$1].count }
        var results = [[Float]](repeating: [], count: sequences.count)
        var batchOutput = [Float](repeating: 0, count: min(batchSize, sequences.count) * dimensions)
        let (borrowed, executor) = borrowScratch()
        defer { returnScratch(borrowed, executor) }
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let batch = order[start..<min(start + batchSize, order.count)].map { sequences[$0] }
            batchOutput.withUnsafeMutableBufferPointer { output in
                runBatch(batch, into: output.baseAddress!, workspaces: borrowed, executor: executor)
            }
            for (offset, index) in order[start..<min(start + batchSize, order.count)].enumerated() {
                results[index] = Array(batchOutput[(offset * dimensions)..<((offset + 1) * dimensions)])
            }
        }
        return results
    }

    /// Runs one batch, writing embedding `i` of `batch` at `output + i * dimensions`.
    ///
    /// With several workers and enough sequences, the batch is split into one group of whole sequences
    /// per worker (balanced by estimated cost), and each worker runs the model on its group alone —
    /// no synchronisation inside the forward pass. Otherwise (a single text, or very uneven lengths)
    /// all workers share each matrix product and the attention heads.
    private func runBatch(
        _ batch: [[Int32]], into output: UnsafeMutablePointer<Float>, workspaces: [EncoderWorkspace], executor: ParallelExecutor
    ) {
        let all = Array(batch.indices)
        if threads > 1, batch.count >= threads {
            let groups = Self.balancedGroups(batch.map(\.count), count: threads)
            if let groups {
                executor.forEachWorker { worker in
                    runGroup(groups[worker], of: batch, into: output, workspace: workspaces[worker], executor: .serial)
                }
                return
            }
        }
        runGroup(all, of: batch, into: output, workspace: workspaces[0], executor: executor)
    }

    /// Runs the sequences `members` of `batch` in packed chunks of at most `chunkTokenCapacity` tokens.
    private func runGroup(
        _ members: [Int], of batch: [[Int32]], into output: UnsafeMutablePointer<Float>, workspace: EncoderWorkspace,
        executor: ParallelExecutor
    ) {
        var next = 0
        var chunkOutput = [Float](repeating: 0, count: 0)
        while next < members.count {
            var ranges: [Range<Int>] = []
            var tokenCount = 0
            var chunkMembers: [Int] = []
            while next < members.count, ranges.isEmpty || tokenCount + batch[members[next]].count <= workspace.tokenCapacity {
                let ids = batch[members[next]]
                for (offset, id) in ids.enumerated() { workspace.tokenIDs[tokenCount + offset] = id }
                ranges.append(tokenCount..<(tokenCount + ids.count))
                tokenCount += ids.count
                chunkMembers.append(members[next])
                next += 1
            }
            if chunkOutput.count < ranges.count * dimensions {
                chunkOutput = [Float](repeating: 0, count: ranges.count * dimensions)
            }
            chunkOutput.withUnsafeMutableBufferPointer { buffer in
                encoder.encode(tokenCount: tokenCount, sequences: ranges, into: buffer.baseAddress!, workspace: workspace, executor: executor)
                for (position, member) in chunkMembers.enumerated() {
                    (output + member * dimensions).update(from: buffer.baseAddress! + position * dimensions, count: dimensions)
                }
            }
        }
    }

    /// Workspaces and executors not in use by a call.
    private struct ScratchPool {
        var workspaces: [EncoderWorkspace] = []
        var executors: [ParallelExecutor] = []
    }

    /// Splits sequence indices into `count` groups of similar estimated cost (longest first, each to the
    /// lightest group), or nil when the best split is too uneven to beat sharing the work.
    static func balancedGroups(_ lengths: [Int], count: Int) -> [[Int]]? {
        func cost(_ length: Int) -> Double { Double(length) * (1 + Double(length) / 1000) }
        var groups = [[Int]](repeating: [], count: count)
        var loads = [Double](repeating: 0, count: count)
        for index in lengths.indices.sorted(by: { lengths[$0] > lengths[$1] }) {
            let lightest = loads.indices.min { loads[$0] < loads[$1] }!
            groups[lightest].append(index)
            loads[lightest] += cost(lengths[index])
        }
        let mean = loads.reduce(0, +) / Double(count)
        guard let heaviest = loads.max(), heaviest <= 1.25 * mean else { return nil }
        return groups.map { $0.sorted() }
    }

    /// Scratch memory for one call (one workspace per worker) and the executor whose helper threads it runs on,
    /// from the pool, or new when every pooled one is in use by another call.
    private func borrowScratch() -> ([EncoderWorkspace], ParallelExecutor) {
        var (borrowed, executor) = scratch.withLock { pool -> ([EncoderWorkspace], ParallelExecutor?) in
            let taken = Array(pool.workspaces.suffix(threads))
            pool.workspaces.removeLast(taken.count)
            return (taken, pool.executors.popLast())
        }
        while borrowed.count < threads {
            borrowed.append(EncoderWorkspace(tokenCapacity: chunkTokenCapacity, configuration: encoder.configuration, workers: threads))
        }
        return (borrowed, executor ?? ParallelExecutor(workers: threads))
    }

    /// Returns a call's scratch to the pool, which keeps enough for a few concurrent calls; the rest is freed
    /// (an executor's helper threads stop).
    private func returnScratch(_ borrowed: [EncoderWorkspace], _ executor: ParallelExecutor) {
        scratch.withLock { pool in
            if pool.workspaces.count < 4 * threads { pool.workspaces.append(contentsOf: borrowed) }
            if pool.executors.count < 2 { pool.executors.append(executor) }
        }
    }
}
