import Foundation
import Messaging
import Persistence
import Schemas

/// The embedder's Postgres work: which chunks are already stored with the same content, and the one
/// transaction that upserts a batch's rows together with its `document.indexed` outbox events — one event
/// per actual change, so a redelivered or re-posted chunk that changes nothing adds no event.
struct ChunkStore: Sendable {
    /// The width of `chunks.embedding` (migration 0001).
    static let dimensions = 384

    let pool: PostgresPool
    let model: String
    let indexEventsTopic: String
    let indexEventVersion: String

    /// content_sha256 of the stored rows among `chunkIDs`.
    func storedContentHashes(of chunkIDs: [String]) async throws -> [String: String] {
        guard !chunkIDs.isEmpty else { return [:] }
        let placeholders = (1...chunkIDs.count).map { "$\($0)" }.joined(separator: ",")
        let rows = try await pool.query("SELECT chunk_id, content_sha256 FROM chunks WHERE chunk_id IN (\(placeholders))",
                                        parameters: chunkIDs)
        var hashes: [String: String] = [:]
        for row in rows { hashes[try row.decode(String.self, at: 0)] = try row.decode(String.self, at: 1) }
        return hashes
    }

    /// What one batch writes.
    struct Batch {
        /// New or changed content, with its vector.
        var embedded: [(chunk: ChunkToIndex, vector: [Float])] = []
        /// Content already stored for this model: only visibility and metadata may change.
        var unchanged: [ChunkToIndex] = []
        /// Chunks that will go to rag.dlq, reported as `failed` index events.
        var failed: [ChunkToIndex] = []

        var count: Int { embedded.count + unchanged.count + failed.count }

        /// The batch cut in two of about equal size (to isolate a chunk Postgres refuses).
        func halves() -> (Batch, Batch) {
            var first = Batch(), second = Batch()
            let middle = count / 2
            var position = 0
            func goesFirst() -> Bool {
                defer { position += 1 }
                return position < middle
            }
            for item in embedded { if goesFirst() { first.embedded.append(item) } else { second.embedded.append(item) } }
            for item in unchanged { if goesFirst() { first.unchanged.append(item) } else { second.unchanged.append(item) } }
            for item in failed { if goesFirst() { first.failed.append(item) } else { second.failed.append(item) } }
            return (first, second)
        }

        /// Every chunk of the batch (for a batch of one: that chunk).
        var chunks: [ChunkToIndex] { embedded.map(\.chunk) + unchanged + failed }
    }

    /// What a batch's transaction changed.
    struct Changes {
        /// Rows inserted, or updated because content, visibility or metadata differed.
        var written: Set<String> = []
        /// Unchanged content whose visibility or metadata changed.
        var reclassified: Set<String> = []
    }

    /// Upserts rows and writes one outbox event per (tenant, document, status) for what actually changed, all
    /// in one transaction: one statement per kind of write, however many chunks the batch has (chunk ids are
    /// unique in a batch).
    ///
    /// The batch's chunk ids are locked first (transaction-scoped advisory locks, in id order), so that what
    /// counts as a change is decided inside the transaction: two embedders writing the same chunk during a
    /// rebalance take turns, and the second sees the first's row and records no second event.
    @discardableResult
    func write(_ batch: Batch) async throws -> Changes {
        try await pool.withTransaction { connection in
            var changes = Changes()
            let ids = batch.embedded.map(\.chunk.chunkID) + batch.unchanged.map(\.chunkID)
            if !ids.isEmpty {
                try await connection.query(
                    """
                    SELECT pg_advisory_xact_lock(hashtextextended(id, 0))
                    FROM (VALUES \(Self.valuesList(rows: ids.count, casts: [""]))) AS ids (id) ORDER BY id
                    """,
                    parameters: ids)
            }
            if !batch.embedded.isEmpty {
                let rows = try await connection.query(
                    """
                    INSERT INTO chunks (chunk_id, doc_id, seq, tenant, visibility, text, content_sha256, model, embedding, metadata)
                    VALUES \(Self.valuesList(rows: batch.embedded.count, casts: ["", "", "", "", "", "", "", "", "::vector", "::jsonb"]))
                    ON CONFLICT (chunk_id) DO UPDATE SET
                        visibility = EXCLUDED.visibility, text = EXCLUDED.text, content_sha256 = EXCLUDED.content_sha256,
                        embedding = EXCLUDED.embedding, metadata = EXCLUDED.metadata, updated_at = now()
                    WHERE chunks.content_sha256 IS DISTINCT FROM EXCLUDED.content_sha256
                       OR chunks.visibility IS DISTINCT FROM EXCLUDED.visibility
                       OR chunks.metadata IS DISTINCT FROM EXCLUDED.metadata
                    RETURNING chunk_id
                    """,
                    parameters: batch.embedded.flatMap { chunk, vector -> [(any PostgresEncodable)?] in
                        [chunk.chunkID, chunk.docID, chunk.seq, chunk.tenant, chunk.visibility, chunk.text, chunk.contentSHA256,
                         model, vector, chunk.metadataJSON]
                    })
                changes.written = Set(try rows.map { try $0.decode(String.self, at: 0) })
            }
            if !batch.unchanged.isEmpty {
                let rows = try await connection.query(
                    """
                    UPDATE chunks SET visibility = changed.visibility, metadata = changed.metadata, updated_at = now()
                    FROM (VALUES \(Self.valuesList(rows: batch.unchanged.count, casts: ["", "", "::jsonb", ""])))
                        AS changed (chunk_id, visibility, metadata, content_sha256)
                    WHERE chunks.chunk_id = changed.chunk_id AND chunks.content_sha256 = changed.content_sha256
                      AND (chunks.visibility <> changed.visibility OR chunks.metadata <> changed.metadata)
                    RETURNING chunks.chunk_id
                    """,
                    parameters: batch.unchanged.flatMap { chunk -> [(any PostgresEncodable)?] in
                        [chunk.chunkID, chunk.visibility, chunk.metadataJSON, chunk.contentSHA256]
                    })
                changes.reclassified = Set(try rows.map { try $0.decode(String.self, at: 0) })
            }
            let events = indexEvents(batch, changes)
            if !events.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO outbox (aggregatetype, aggregateid, type, payload, topic, key, headers)
                    SELECT 'document', event.doc_id, 'document.indexed', event.payload, $1, event.doc_id, event.headers
                    FROM (VALUES \(Self.valuesList(rows: events.count, casts: ["", "::jsonb", "::jsonb"], firstParameter: 2)))
                        AS event (doc_id, payload, headers)
                    """,
                    parameters: [indexEventsTopic] + events.flatMap { event -> [(any PostgresEncodable)?] in
                        [event.docID, event.payload, event.headers]
                    })
            }
            return changes
        }
    }

    /// `($1, $2::vector), ($3, $4::vector)` for 2 rows with casts ["", "::vector"].
    static func valuesList(rows: Int, casts: [String], firstParameter: Int = 1) -> String {
        (0..<rows).map { row in
            "(" + casts.enumerated().map { column, cast in "$\(firstParameter + row * casts.count + column)\(cast)" }.joined(separator: ", ") + ")"
        }.joined(separator: ", ")
    }

    /// One `document.indexed` outbox row.
    private struct OutboxRow {
        var docID: String
        var payload: String
        var headers: String
    }

    /// One IndexEvent per (tenant, doc_id, status) among the chunks that changed (and those that failed),
    /// carrying the trusted headers of its first chunk.
    private func indexEvents(_ batch: Batch, _ changes: Changes) -> [OutboxRow] {
        let groups: [(IndexEvent.Status, [ChunkToIndex])] = [
            (.indexed, batch.embedded.map(\.chunk).filter { changes.written.contains($0.chunkID) }),
            (.unchanged, batch.unchanged.filter { changes.reclassified.contains($0.chunkID) }),
            (.failed, batch.failed),
        ]
        var events: [OutboxRow] = []
        for (status, chunks) in groups {
            var order: [String] = []
            var byDocument: [String: [ChunkToIndex]] = [:]
            for chunk in chunks {
                let key = chunk.tenant + "\u{0}" + chunk.docID
                if byDocument[key] == nil { order.append(key) }
                byDocument[key, default: []].append(chunk)
            }
            for key in order {
                let chunks = byDocument[key]!
                let first = chunks[0]
                let payload = IndexEvent(docID: first.docID, chunks: chunks.count, model: model, status: status)
                var headers: [(String, JSONValue)] = [
                    ("tenant", .string(first.tenant)), ("user-id", .string(first.userID)), ("schema-version", .string(indexEventVersion)),
                ]
                if let requestID = first.requestID { headers.append(("request-id", .string(requestID))) }
                if let traceparent = first.traceparent { headers.append(("traceparent", .string(traceparent))) }
                events.append(OutboxRow(
                    docID: first.docID, payload: String(decoding: payload.encoded(), as: UTF8.self),
                    headers: String(decoding: JSONValue.object(JSONObject(uniqueKeysWithValues: headers)).serialized(), as: UTF8.self)))
            }
        }
        return events
    }
}
