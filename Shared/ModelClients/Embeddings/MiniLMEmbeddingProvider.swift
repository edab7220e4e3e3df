public import MiniLM

/// The embedded provider (SPEC §8, the default): all-MiniLM-L6-v2 computed in this process by
/// ``MiniLM/MiniLMEmbedder``, 384-dimensional unit vectors, no network.
///
/// - Threading: inference is synchronous and CPU-bound (about 5 ms per short text), so it runs on
///   the threads of a ``DedicatedThreadPool`` — never on Swift's cooperative pool. `embed` suspends
///   the calling task until its turn comes and the vectors are ready. Calls run FIFO, at most
///   `inferenceThreads` at once; each call itself uses the embedder's own `threads` workers, so
///   `inferenceThreads × threads` should not exceed the CPU cores given to the process.
/// - Batching: ``maxBatchSize`` is the batch the embedder computes at once; a call with more texts
///   is accepted and computed in several batches of that size.
/// - Cancellation: a call cancelled while waiting for a thread throws `.cancelled` at once; once
///   inference has started it finishes first.
/// - Errors: only `.cancelled` in practice (the model cannot be unavailable or rate-limited).
public final class MiniLMEmbeddingProvider: EmbeddingProvider {
    /// The embedder doing the work (thread-safe, shared).
    public let embedder: MiniLMEmbedder
    /// The threads inference runs on.
    public let inferencePool: DedicatedThreadPool
    /// Texts computed together in one batch; see the type's documentation.
    public let maxBatchSize: Int

    /// `all-MiniLM-L6-v2`.
    public var model: String { embedder.modelName }
    /// 384.
    public var dimensions: Int { embedder.dimensions }
    /// `minilm`.
    public var providerName: String { "minilm" }

    /// Wraps a loaded embedder.
    /// - Parameters:
    ///   - embedder: The model, loaded with the number of worker threads each call may use.
    ///   - maxBatchSize: Texts per computed batch (default 32, at least 1).
    ///   - inferenceThreads: Dedicated threads for inference, i.e. calls that compute at once (default 1).
    public init(embedder: MiniLMEmbedder, maxBatchSize: Int = 32, inferenceThreads: Int = 1) {
        precondition(maxBatchSize >= 1, "maxBatchSize must be at least 1")
        precondition(inferenceThreads >= 1, "inferenceThreads must be at least 1")
        self.embedder = embedder
        self.maxBatchSize = maxBatchSize
        self.inferencePool = DedicatedThreadPool(name: "rag-minilm", threads: inferenceThreads)
    }

    /// Loads the model from `modelDirectory` and wraps it.
    /// - Parameters:
    ///   - modelDirectory: Where the model files are (default: `$RAG_MINILM_MODEL_DIR`, else
    ///     `.data/models/all-MiniLM-L6-v2`; see ``MiniLM/MiniLMEmbedder/resolveModelDirectory(environment:)``).
    ///   - threads: Worker threads one call uses (default 2).
    ///   - maxBatchSize: Texts per computed batch (default 32).
    ///   - inferenceThreads: Calls that compute at once (default 1).
    /// - Throws: ``MiniLM/MiniLMError`` naming the missing or invalid file.
    public convenience init(
        modelDirectory: String = MiniLMEmbedder.resolveModelDirectory(),
        threads: Int = 2,
        maxBatchSize: Int = 32,
        inferenceThreads: Int = 1
    ) throws {
        let embedder = try MiniLMEmbedder(modelDirectory: modelDirectory, threads: threads)
        self.init(embedder: embedder, maxBatchSize: maxBatchSize, inferenceThreads: inferenceThreads)
    }

    deinit {
        inferencePool.shutdown()
    }

    /// One unit-length vector per text, in order, computed on the inference threads.
    public func embed(_ texts: [String]) async throws(ModelCallError) -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        let embedder = self.embedder
        let batchSize = maxBatchSize
        let outcome: Result<[[Float]], ModelCallError>
        do {
            outcome = try await inferencePool.run {
                do {
                    return .success(try embedder.embed(texts, batchSize: batchSize))
                } catch {
                    return .failure(ModelCallError(kind: .rejected, message: "MiniLM refused the input: \(error)"))
                }
            }
        } catch {
            throw ModelCallError(kind: .cancelled, message: "cancelled before MiniLM inference started")
        }
        return try outcome.get()
    }
}
