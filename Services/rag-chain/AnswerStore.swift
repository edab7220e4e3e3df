import Foundation
import Persistence
import Schemas

/// rag-chain's Postgres work: whether a query was answered already, and the one transaction that records an
/// answer — its `answers` row (the audit record of who received which answer) with its `answer.ready` outbox
/// row, which outbox-relay publishes to rag.results.
struct AnswerStore: Sendable {
    let pool: PostgresPool
    let resultsTopic: String

    /// Whether `queryID` has a final answer (`answered` or `refused`): then a redelivered query costs no
    /// model call. A `failed` answer is not final: redriving the query from rag.dlq answers it again.
    func isAnswered(_ queryID: String) async throws -> Bool {
        let rows = try await pool.query("SELECT 1 FROM answers WHERE query_id = $1 AND status IN ('answered', 'refused')", queryID)
        return !rows.isEmpty
    }

    /// Who asked, and how the answer came about: the `answers` row beside the ResultEvent.
    struct Record: Sendable {
        var result: ResultEvent
        var userID: String
        var tenant: String
        var tier: String
        var question: String
        var promptHash: String
        /// The headers of the rag.results record (identity, trace, model and prompt).
        var headers: [(String, String)]
    }

    /// Writes the answer and its outbox row in one transaction (one statement). A query that already has a final answer
    /// (another instance answered it meanwhile) is left as it is and gets no second outbox row; a `failed`
    /// answer is replaced. Returns whether the answer was recorded.
    @discardableResult
    func record(_ record: Record) async throws -> Bool {
        let result = record.result
        let citations = String(decoding: (try? JSONEncoder().encode(result.citations)) ?? Data("[]".utf8), as: UTF8.self)
        let usage = String(decoding: (try? JSONEncoder().encode(result.usage)) ?? Data("{}".utf8), as: UTF8.self)
        let headers = JSONValue.object(JSONObject(uniqueKeysWithValues: record.headers.map { ($0.0, JSONValue.string($0.1)) }))
        // One statement, so one round trip and its own transaction: the outbox row is inserted only for an
        // answers row that was written.
        let written = try await pool.query(
            """
            WITH written AS (
                INSERT INTO answers (query_id, user_id, tenant, tier, question, answer, citations, model, prompt_version, prompt_hash,
                                     usage, status, latency_ms, embedding_model)
                VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11::jsonb, $12, $13, $14)
                ON CONFLICT (query_id) DO UPDATE SET
                    answer = EXCLUDED.answer, citations = EXCLUDED.citations, model = EXCLUDED.model,
                    embedding_model = EXCLUDED.embedding_model,
                    prompt_version = EXCLUDED.prompt_version, prompt_hash = EXCLUDED.prompt_hash, usage = EXCLUDED.usage,
                    status = EXCLUDED.status, latency_ms = EXCLUDED.latency_ms, updated_at = now()
                WHERE answers.status = 'failed'
                RETURNING query_id
            )
            INSERT INTO outbox (aggregatetype, aggregateid, type, payload, topic, key, headers)
            SELECT 'query', query_id, 'answer.ready', $15::jsonb, $16, query_id, $17::jsonb FROM written
            """,
            result.queryID, record.userID, record.tenant, record.tier, record.question, result.answer, citations,
            result.model, result.promptVersion, record.promptHash, usage, result.status.rawValue, result.latencyMilliseconds,
            result.embeddingModel, String(decoding: result.encoded(), as: UTF8.self), resultsTopic,
            String(decoding: headers.serialized(), as: UTF8.self))
        return written.affectedRows == 1
    }
}
