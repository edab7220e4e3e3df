import Metrics
import Persistence
import Schemas

/// Finds the chunks closest to a question inside Postgres (SPEC §4, §6): restricted to the caller's tenant,
/// to the visibilities its tier may see and to the active embedding model — in the vector search itself, not
/// after it, so a chunk the caller may not see never leaves the database.
///
/// pgvector's HNSW index with `hnsw.iterative_scan = relaxed_order` keeps scanning the graph until `topK`
/// rows pass the filters (without it a selective filter — one tenant's confidential chunks — could leave
/// fewer than `topK` of the index's first candidates). Relaxed order may return rows slightly out of order,
/// so they are sorted again by distance. Rows under `minScore` (cosine similarity) are dropped.
struct ChunkRetriever: Sendable {
    let pool: PostgresPool
    /// The embedding model whose rows are searched (switching models is one configuration change).
    let model: String
    let minScore: Double
    let efSearch: Int

    private static let duration = Metrics.Timer(label: "rag_chain_retrieval_duration_seconds", preferredDisplayUnit: .seconds)

    func retrieve(_ embedding: [Float], tenant: String, visibilities: [String], topK: Int) async throws -> [RetrievedChunk] {
        let started = ContinuousClock.now
        defer { Self.duration.record(duration: ContinuousClock.now - started) }
        return try await pool.withTransaction { connection in
            try await connection.query("SET LOCAL hnsw.iterative_scan = relaxed_order")
            try await connection.query("SET LOCAL hnsw.ef_search = \(max(efSearch, topK))")
            let rows = try await connection.query(
                """
                WITH nearest AS MATERIALIZED (
                    SELECT chunk_id, doc_id, seq, text, embedding <=> $1::vector AS distance
                    FROM chunks
                    WHERE tenant = $2 AND model = $3 AND visibility = ANY (string_to_array($4, ','))
                    ORDER BY embedding <=> $1::vector
                    LIMIT $5
                )
                SELECT chunk_id, doc_id, seq, text, 1 - distance AS score
                FROM nearest WHERE 1 - distance >= $6 ORDER BY distance, chunk_id
                """,
                embedding, tenant, model, visibilities.joined(separator: ","), topK, minScore)
            return try rows.map { row in
                RetrievedChunk(chunkID: try row.decode(String.self, at: 0), docID: try row.decode(String.self, at: 1),
                               seq: try row.decode(Int.self, at: 2), score: try row.decode(Double.self, at: 4),
                               text: try row.decode(String.self, at: 3))
            }
        }
    }
}
