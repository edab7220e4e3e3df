import Logging
import Metrics
import ModelClients
import Persistence
import Synchronization

/// Indexes a batch of chunks: skips content already stored for this model, embeds the rest (isolating
/// inputs the provider refuses), and writes rows and outbox events in one transaction.
///
/// The outcome of each chunk is `.indexed`, `.unchanged`, `.failed` (for rag.dlq: the provider refused
/// the text, or kept failing through every retry) or `.rejected` (for rag.dlq: Postgres refuses the chunk's
/// data — SQLSTATE class 22 or 23 — so the batch is split until that chunk is alone, and the others are
/// stored). Any other error — Postgres down, hung, deadlocked — fails the whole batch, and the consumer
/// retries those records.
/// Vectors computed for a batch that could not be stored are kept (bounded) so the retry does not call the
/// model again.
struct ChunkIndexer: Sendable {
    enum Outcome: Sendable {
        case indexed
        case unchanged
        /// The provider refused this text (4xx) or failed through every retry: a dead letter.
        case failed(ModelCallError)
        /// Postgres refuses this chunk's data (e.g. U+0000 in a metadata key, which jsonb cannot hold): a dead letter.
        case rejected(PostgresError)
    }

    let provider: any EmbeddingProvider
    let store: ChunkStore
    let pendingVectors: VectorCache
    let logger: Logger

    private static let outcomes = (
        indexed: Counter(label: "rag_embedder_chunks_total", dimensions: [("outcome", "indexed")]),
        unchanged: Counter(label: "rag_embedder_chunks_total", dimensions: [("outcome", "unchanged")]),
        failed: Counter(label: "rag_embedder_chunks_total", dimensions: [("outcome", "failed")])
    )
    private static let batchSizes = Recorder(label: "rag_embedder_batch_size", aggregate: true)
    private static let writeDuration = Metrics.Timer(label: "rag_embedder_write_duration_seconds", preferredDisplayUnit: .seconds)
    private static let writeFailures = Counter(label: "rag_embedder_write_failures_total")

    func index(_ chunks: [ChunkToIndex]) async -> [Result<Outcome, any Error>] {
        Self.batchSizes.record(chunks.count)
        do {
            let outcomes = try await indexUnique(chunks)
            return chunks.map { .success(outcomes[$0.chunkID]!) }
        } catch {
            logger.warning("batch not indexed; its records will be retried", metadata: ["chunks": "\(chunks.count)", "error": "\(error)"])
            return chunks.map { _ in .failure(error) }
        }
    }

    private func indexUnique(_ chunks: [ChunkToIndex]) async throws -> [String: Outcome] {
        // The same chunk twice in one batch (a re-post): the later record wins.
        var latest: [String: ChunkToIndex] = [:]
        for chunk in chunks { latest[chunk.chunkID] = chunk }
        let unique = Array(latest.values)

        let stored = try await store.storedContentHashes(of: unique.map(\.chunkID))
        var batch = ChunkStore.Batch()
        var toEmbed: [ChunkToIndex] = []
        for chunk in unique {
            if stored[chunk.chunkID] == chunk.contentSHA256 {
                batch.unchanged.append(chunk)
            } else if let vector = pendingVectors.vector(for: chunk) {
                batch.embedded.append((chunk, vector))
            } else {
                toEmbed.append(chunk)
            }
        }

        var outcomes: [String: Outcome] = [:]
        for (chunk, result) in try await embed(toEmbed) {
            switch result {
            case .success(let vector):
                pendingVectors.keep(vector, for: chunk)
                batch.embedded.append((chunk, vector))
            case .failure(let error):
                batch.failed.append(chunk)
                outcomes[chunk.chunkID] = .failed(error)
            }
        }

        let start = ContinuousClock.now
        let written: ChunkStore.Changes
        do {
            written = try await writeIsolatingRejections(batch, into: &outcomes)
        } catch {
            Self.writeFailures.increment()
            throw error
        }
        Self.writeDuration.record(duration: ContinuousClock.now - start)
        for (chunk, _) in batch.embedded {
            pendingVectors.forget(chunk)
            guard outcomes[chunk.chunkID] == nil else { continue }  // rejected
            // Content another delivery stored meanwhile counts as unchanged.
            outcomes[chunk.chunkID] = written.written.contains(chunk.chunkID) ? .indexed : .unchanged
        }
        for chunk in batch.unchanged where outcomes[chunk.chunkID] == nil { outcomes[chunk.chunkID] = .unchanged }
        for outcome in outcomes.values {
            switch outcome {
            case .indexed: Self.outcomes.indexed.increment()
            case .unchanged: Self.outcomes.unchanged.increment()
            case .failed, .rejected: Self.outcomes.failed.increment()
            }
        }
        return outcomes
    }

    /// Writes the batch; when Postgres refuses its data, writes each half on its own until the refused chunks
    /// are alone, records them as `.rejected` in `outcomes` and keeps the rest. Other errors propagate.
    private func writeIsolatingRejections(_ batch: ChunkStore.Batch, into outcomes: inout [String: Outcome]) async throws -> ChunkStore.Changes {
        guard batch.count > 0 else { return .init() }
        do {
            return try await store.write(batch)
        } catch let error as PostgresError where error.isDataRejection {
            guard batch.count > 1 else {
                let chunk = batch.chunks[0]
                logger.warning("Postgres refuses a chunk's data", metadata: ["chunk_id": "\(chunk.chunkID)", "error": "\(error)"])
                outcomes[chunk.chunkID] = .rejected(error)
                return .init()
            }
            let (first, second) = batch.halves()
            let left = try await writeIsolatingRejections(first, into: &outcomes)
            let right = try await writeIsolatingRejections(second, into: &outcomes)
            return .init(written: left.written.union(right.written), reclassified: left.reclassified.union(right.reclassified))
        }
    }

    /// Embeds in provider-sized slices, concurrently (the provider bounds its own concurrency). A slice the
    /// provider refuses (4xx) is split in halves until the refused texts are alone; a slice that failed
    /// through every retry fails as a whole; cancellation throws.
    private func embed(_ chunks: [ChunkToIndex]) async throws -> [(ChunkToIndex, Result<[Float], ModelCallError>)] {
        let size = max(1, provider.maxBatchSize)
        let slices = stride(from: 0, to: chunks.count, by: size).map { Array(chunks[$0..<min($0 + size, chunks.count)]) }
        return try await withThrowingTaskGroup(of: [(ChunkToIndex, Result<[Float], ModelCallError>)].self) { group in
            for slice in slices { group.addTask { try await embedIsolatingRejections(slice) } }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    private func embedIsolatingRejections(_ chunks: [ChunkToIndex]) async throws -> [(ChunkToIndex, Result<[Float], ModelCallError>)] {
        do {
            let vectors = try await provider.embed(chunks.map(\.text))
            return Array(zip(chunks, vectors.map { .success($0) }))
        } catch where error.kind == .rejected && chunks.count > 1 {
            let middle = chunks.count / 2
            async let left = embedIsolatingRejections(Array(chunks[..<middle]))
            async let right = embedIsolatingRejections(Array(chunks[middle...]))
            return try await left + right
        } catch where error.kind == .cancelled {
            throw CancellationError()
        } catch {
            return chunks.map { ($0, .failure(error)) }
        }
    }
}

/// Vectors computed but not yet stored, by chunk id and content: a batch that failed to write (Postgres
/// down) is retried without calling the model again. Bounded: beyond `capacity` entries it starts over.
final class VectorCache: Sendable {
    private let vectors = Mutex<[String: [Float]]>([:])
    private let capacity: Int

    init(capacity: Int = 20_000) {
        self.capacity = capacity
    }

    private static func key(_ chunk: ChunkToIndex) -> String { chunk.chunkID + ":" + chunk.contentSHA256 }

    func vector(for chunk: ChunkToIndex) -> [Float]? { vectors.withLock { $0[Self.key(chunk)] } }

    func keep(_ vector: [Float], for chunk: ChunkToIndex) {
        vectors.withLock { vectors in
            if vectors.count >= capacity { vectors.removeAll(keepingCapacity: true) }
            vectors[Self.key(chunk)] = vector
        }
    }

    func forget(_ chunk: ChunkToIndex) { _ = vectors.withLock { $0.removeValue(forKey: Self.key(chunk)) } }
}
