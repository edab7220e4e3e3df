import Persistence

/// The relay's SQL on the `outbox` table (migrations 0001 and 0002): claim a batch, mark it published, measure
/// the backlog, delete what retention allows.
///
/// **Claiming, and why each aggregate's rows are published in order by at most one relay at a time.**
/// `beginAndClaim` starts the batch's transaction and
/// 1. reads the `scanWindow` oldest unpublished rows (by `position`) and, for their aggregates in the order of
///    their oldest row, tries `pg_try_advisory_xact_lock(hashtextextended(aggregatetype || ':' || aggregateid,
///    0))` — the aggregate lock — until it holds `limit` of them (each has a row to claim, so holding more
///    would only keep them from other relays). Only relays take the lock, never waiting for it; it is held
///    until the transaction ends (commit, rollback, or the session dying with a killed relay). The
///    `MATERIALIZED` steps keep the planner from taking locks before the ordering and the `LIMIT`;
/// 2. returns, in position order, up to `limit` unpublished rows of the aggregates whose lock it got, locked
///    `FOR UPDATE SKIP LOCKED`.
///
/// While a relay holds an aggregate's lock no other relay claims any row of it, so an aggregate is never
/// published by two relays at once. No relay holds a row lock on an aggregate it does not hold the lock of,
/// so `SKIP LOCKED` never skips a row of a held aggregate (only an operator's concurrent `UPDATE` could); with
/// `ORDER BY position LIMIT n`, the rows taken of each aggregate are therefore its oldest unpublished rows — a
/// prefix in position order. The relay publishes that prefix in order and marks as published only a prefix
/// of it (what was delivered before an aggregate's first failure), in the same transaction that holds the
/// lock. When the lock is released, the aggregate's unpublished rows are again exactly a suffix, and the
/// next claim (by any relay) continues where this one stopped: each aggregate's rows go out in position
/// order, and a row is republished only after a failure or a crash, followed by the rows after it.
///
/// A claim whose snapshot predates another relay's commit cannot take rows that commit published: `FOR
/// UPDATE` re-reads a row changed since the snapshot and drops it once `published_at` is set (READ COMMITTED).
///
/// **What the writers must do.** Position is an identity value drawn at insert time, and the relay sees rows
/// when their transaction commits. Rows of one aggregate are published in position order as long as that is
/// also their commit order — true when writers of one aggregate serialise (they lock the aggregate's
/// business row, as rag-chain does with its `answers` row, before inserting the outbox row). Concurrent
/// writers of one aggregate that do not (the embedder's per-document `document.indexed` counts) get their
/// rows published in commit order instead.
///
/// **Threading.** A value holding a pool; `Sendable`.
struct OutboxStore: Sendable {
    let pool: PostgresPool

    /// Begins the batch's transaction on `connection` and claims up to `limit` rows in it, oldest first,
    /// looking for aggregates among the `scanWindow` oldest unpublished rows; see the type's documentation.
    /// One round trip (a pipeline: BEGIN, the claim). The transaction stays open, holding the rows and the
    /// aggregates' locks, until ``markPublishedAndCommit(_:on:)``; a connection given back without it is
    /// rolled back by the pool, which releases them.
    func beginAndClaim(limit: Int, scanWindow: Int, on connection: PostgresConnection) async throws -> [OutboxRow] {
        let claim = try PostgresStatement(
            """
            WITH candidates AS MATERIALIZED (
                SELECT aggregatetype, aggregateid, min(position) AS first_position
                FROM (SELECT aggregatetype, aggregateid, position FROM outbox
                      WHERE published_at IS NULL ORDER BY position LIMIT $1) AS scanned
                GROUP BY aggregatetype, aggregateid
                ORDER BY first_position
            ), held AS MATERIALIZED (
                SELECT aggregatetype, aggregateid FROM candidates
                WHERE pg_try_advisory_xact_lock(hashtextextended(aggregatetype || ':' || aggregateid, 0))
                LIMIT $2
            )
            SELECT \(OutboxRow.selectList)
            FROM outbox o JOIN held USING (aggregatetype, aggregateid)
            WHERE o.published_at IS NULL
            ORDER BY o.position
            LIMIT $2
            FOR UPDATE OF o SKIP LOCKED
            """,
            scanWindow, limit)
        return try await connection.pipeline([try PostgresStatement("BEGIN"), claim])[1].map(OutboxRow.init)
    }

    /// Sets `published_at = now()` on the rows, in the transaction that still holds their locks, and commits
    /// it. One round trip (a pipeline: the UPDATE, COMMIT).
    func markPublishedAndCommit(_ ids: [String], on connection: PostgresConnection) async throws {
        var statements = [try PostgresStatement("COMMIT")]
        if !ids.isEmpty {
            statements.insert(try PostgresStatement(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::uuid[])", "{" + ids.joined(separator: ",") + "}"), at: 0)
        }
        _ = try await connection.pipeline(statements)
    }

    /// Unpublished rows and the age in seconds of the oldest (0 when there is none).
    func backlog() async throws -> (rows: Int, oldestAgeSeconds: Double) {
        let row = try await pool.query(
            """
            SELECT count(*)::bigint, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
            FROM outbox WHERE published_at IS NULL
            """
        ).singleRow()
        return (try row.decode(Int.self, at: 0), max(0, try row.decode(Double.self, at: 1)))
    }

    /// Deletes up to `limit` rows published before `retention` ago, oldest first; returns how many.
    /// Rows another session holds are skipped, so relays and cleanups never wait for each other.
    func deletePublished(olderThan retention: Duration, limit: Int) async throws -> Int {
        let result = try await pool.query(
            """
            DELETE FROM outbox WHERE id IN (
                SELECT id FROM outbox
                WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1)
                ORDER BY published_at LIMIT $2
                FOR UPDATE SKIP LOCKED)
            """,
            Double(retention.components.seconds) + Double(retention.components.attoseconds) / 1e18, limit)
        return result.affectedRows ?? 0
    }
}
