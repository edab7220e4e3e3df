import Foundation
import Messaging
import Persistence
import Schemas

/// The embedder's Postgres work: which chunks are already stored with the same content, and the one
/// transaction that upserts a batch's rows together with its `document.indexed` outbox events.
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
    }

    /// Upserts rows and writes one outbox event per (tenant, document, status), all in one transaction:
    /// one statement per kind of write, however many chunks the batch has (chunk ids are unique in a batch).
    func write(_ batch: Batch) async throws {
        try await pool.withTransaction { connection in
            if !batch.embedded.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO chunks (chunk_id, doc_id, seq, tenant, visibility, text, content_sha256, model, embedding, metadata)
                    VALUES \(Self.valuesList(rows: batch.embedded.count, casts: ["", "", "", "", "", "", "", "", "::vector", "::jsonb"]))
                    ON CONFLICT (chunk_id) DO UPDATE SET
                        visibility = EXCLUDED.visibility, text = EXCLUDED.text, content_sha256 = EXCLUDED.content_sha256,
                        embedding = EXCLUDED.embedding, metadata = EXCLUDED.metadata, updated_at = now()
                    """,
                    parameters: batch.embedded.flatMap { chunk, vector -> [(any PostgresEncodable)?] in
                        [chunk.chunkID, chunk.docID, chunk.seq, chunk.tenant, chunk.visibility, chunk.text, chunk.contentSHA256,
                         model, vector, chunk.metadataJSON]
                    })
            }
            if !batch.unchanged.isEmpty {
                try await connection.query(
                    """
                    UPDATE chunks SET visibility = changed.visibility, metadata = changed.metadata, updated_at = now()
                    FROM (VALUES \(Self.valuesList(rows: batch.unchanged.count, casts: ["", "", "::jsonb"])))
                        AS changed (chunk_id, visibility, metadata)
                    WHERE chunks.chunk_id = changed.chunk_id
                      AND (chunks.visibility <> changed.visibility OR chunks.metadata <> changed.metadata)
                    """,
                    parameters: batch.unchanged.flatMap { chunk -> [(any PostgresEncodable)?] in
                        [chunk.chunkID, chunk.visibility, chunk.metadataJSON]
                    })
            }
            let events = indexEvents(batch)
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
        }
    }

    /// `($1, $2::vector), ($3, $4::vector)` for 2 rows with casts ["", "::vector"].
    static func valuesList(rows: Int, casts: [String], firstParameter: Int = 1) -> String {
        (0..<rows).map { row in
            "(" + casts.enumerated().map { column, cast in "$\(firstParameter + row * casts.count + column)\(cast)" }.joined(separator: ", ") + ")"
        }.joined(separator: ", ")
    }

    private struct IndexEvent {
        var docID: String
        var payload: String
        var headers: String
    }

    /// One IndexEvent per (tenant, doc_id, status), carrying the trusted headers of its first chunk.
    private func indexEvents(_ batch: Batch) -> [IndexEvent] {
        let groups: [(String, [ChunkToIndex])] = [
            ("indexed", batch.embedded.map(\.chunk)), ("unchanged", batch.unchanged), ("failed", batch.failed),
        ]
        var events: [IndexEvent] = []
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
                let payload: JSONValue = [
                    "doc_id": .string(first.docID), "chunks": .integer(chunks.count), "model": .string(model), "status": .string(status),
                ]
                var headers: [(String, JSONValue)] = [
                    ("tenant", .string(first.tenant)), ("user-id", .string(first.userID)), ("schema-version", .string(indexEventVersion)),
                ]
                if let requestID = first.requestID { headers.append(("request-id", .string(requestID))) }
                if let traceparent = first.traceparent { headers.append(("traceparent", .string(traceparent))) }
                events.append(IndexEvent(
                    docID: first.docID, payload: String(decoding: payload.serialized(), as: UTF8.self),
                    headers: String(decoding: JSONValue.object(JSONObject(uniqueKeysWithValues: headers)).serialized(), as: UTF8.self)))
            }
        }
        return events
    }
}
