import Metrics
public import Persistence
public import Schemas

/// Finds the chunks closest to a question inside Postgres (SPEC §4, §6): restricted to the caller's tenant,
/// to the visibilities its tier may see and to the active embedding model — in the vector search itself, not
/// after it, so a chunk the caller may not see never leaves the database.
///
/// pgvector's HNSW index with `hnsw.iterative_scan = relaxed_order` keeps scanning the graph until `topK`
/// rows pass the filters (without it a selective filter — one tenant's confidential chunks — could leave
/// fewer than `topK` of the index's first candidates). Relaxed order may return rows slightly out of order,
/// so they are sorted again by distance. Rows under `minScore` (cosine similarity) are dropped.
///
/// Used by the rag-chain and by the retrieval benchmark (Benchmarks/retrieval), which measures this very
/// query. **Threading.** A value holding a pool; safe to use from any task, hence `Sendable`.
public struct ChunkRetriever: Sendable {
    /// Where the `chunks` table lives; each call takes one connection for its transaction.
    public let pool: PostgresPool
    /// The embedding model whose rows are searched (switching models is one configuration change).
    public let model: String
    /// The lowest cosine similarity (1 − cosine distance) a returned chunk may have.
    public let minScore: Double
    /// `hnsw.ef_search` for each search (raised to `topK` when smaller): the size of the graph's candidate list.
    public let efSearch: Int

    /// Creates a retriever.
    /// - Parameters:
    ///   - pool: the database holding `chunks` (migration 0001).
    ///   - model: the embedding model whose rows are searched.
    ///   - minScore: the lowest cosine similarity returned (`RAG_RETRIEVAL_MIN_SCORE`; -1 keeps everything).
    ///   - efSearch: pgvector's `hnsw.ef_search` (`RAG_RETRIEVAL_EF_SEARCH`, default 100 in the rag-chain).
    public init(pool: PostgresPool, model: String, minScore: Double, efSearch: Int) {
        self.pool = pool
        self.model = model
        self.minScore = minScore
        self.efSearch = efSearch
    }

    private static let duration = Metrics.Timer(label: "rag_chain_retrieval_duration_seconds", preferredDisplayUnit: .seconds)

    /// The `topK` chunks of `tenant` and `model` with a visibility in `visibilities` closest to `embedding` by
    /// cosine distance, nearest first (ties by chunk_id), without those under `minScore`. Records its duration
    /// in `rag_chain_retrieval_duration_seconds`.
    /// - Throws: `PostgresError` when the query fails or the database cannot be reached.
    public func retrieve(_ embedding: [Float], tenant: String, visibilities: [String], topK: Int) async throws -> [RetrievedChunk] {
        let started = ContinuousClock.now
        defer { Self.duration.record(duration: ContinuousClock.now - started) }
        let rows = try await searchInTransaction(Self.nearestChunks, embedding, tenant: tenant, visibilities: visibilities, topK: topK)
        return try rows.map { row in
            RetrievedChunk(chunkID: try row.decode(String.self, at: 0), docID: try row.decode(String.self, at: 1),
                           seq: try row.decode(Int.self, at: 2), score: try row.decode(Double.self, at: 4),
                           text: try row.decode(String.self, at: 3))
        }
    }

    /// The plan Postgres picks for ``retrieve(_:tenant:visibilities:topK:)`` with these arguments — the same
    /// statement under the same settings, `EXPLAIN`ed, not run — one line per plan node. The retrieval
    /// benchmark checks with it that the HNSW index serves the search (a sequential scan would be exact and
    /// slow, and would make the benchmark's recall meaningless).
    /// - Throws: `PostgresError` when the statement cannot be planned or the database cannot be reached.
    public func explain(_ embedding: [Float], tenant: String, visibilities: [String], topK: Int) async throws -> String {
        try await searchInTransaction("EXPLAIN " + Self.nearestChunks, embedding, tenant: tenant, visibilities: visibilities, topK: topK)
            .map { try $0.decode(String.self, at: 0) }.joined(separator: "\n")
    }

    /// Runs `statement` (the search, or its EXPLAIN) inside a transaction with the search's transaction-local
    /// settings — iterative index scans (see the type's documentation) and the candidate list size — all in
    /// one round trip (a pipeline: BEGIN, three SET LOCAL, the statement, COMMIT).
    private func searchInTransaction(
        _ statement: String, _ embedding: [Float], tenant: String, visibilities: [String], topK: Int
    ) async throws -> PostgresQueryResult {
        let search = try PostgresStatement(statement, embedding, tenant, model, visibilities.joined(separator: ","), topK, minScore)
        let results = try await pool.pipeline([
            try PostgresStatement("BEGIN"),
            try PostgresStatement("SET LOCAL hnsw.iterative_scan = relaxed_order"),
            try PostgresStatement("SET LOCAL hnsw.ef_search = \(max(efSearch, topK))"),
            // The search is a prepared statement of the session; planned for each embedding and limit, never
            // with a generic plan that could pass over the index.
            try PostgresStatement("SET LOCAL plan_cache_mode = force_custom_plan"),
            search,
            try PostgresStatement("COMMIT"),
        ])
        return results[results.count - 2]  // the search's, before COMMIT's
    }

    /// The search: $1 embedding, $2 tenant, $3 model, $4 visibilities (comma-separated), $5 topK, $6 minScore.
    private static let nearestChunks = """
        WITH nearest AS MATERIALIZED (
            SELECT chunk_id, doc_id, seq, text, embedding <=> $1::vector AS distance
            FROM chunks
            WHERE tenant = $2 AND model = $3 AND visibility = ANY (string_to_array($4, ','))
            ORDER BY embedding <=> $1::vector
            LIMIT $5
        )
        SELECT chunk_id, doc_id, seq, text, 1 - distance AS score
        FROM nearest WHERE 1 - distance >= $6 ORDER BY distance, chunk_id
        """
}
