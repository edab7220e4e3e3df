import Foundation
@testable import Persistence
import Testing

/// `pipeline(_:)`: several statements in one round trip, results in order, and a failure that stops the rest
/// and leaves nothing behind.
@Suite(.enabled(if: TestDatabase.shouldRun, TestDatabase.skipMessage), .timeLimit(.minutes(2)))
struct PostgresPipelineTests {
    @Test func resultsComeBackInOrder() async throws {
        try await TestDatabase.withPool { pool in
            let results = try await pool.pipeline([
                try PostgresStatement("SELECT $1::int + 1", 41),
                try PostgresStatement("SELECT $1::text || $2::text", "pipe", "line"),
                try PostgresStatement("SELECT generate_series(1, $1::int)", 3),
            ])
            #expect(results.count == 3)
            #expect(try results[0].singleValue(Int.self) == 42)
            #expect(try results[1].singleValue(String.self) == "pipeline")
            #expect(try results[2].map { try $0.decode(Int.self, at: 0) } == [1, 2, 3])
        }
    }

    @Test func transactionLocalSettingsApplyToTheStatementsAfterThem() async throws {
        try await TestDatabase.withPool { pool in
            let results = try await pool.pipeline([
                try PostgresStatement("BEGIN"),
                try PostgresStatement("SET LOCAL work_mem = '7MB'"),
                try PostgresStatement("SELECT current_setting('work_mem')"),
                try PostgresStatement("COMMIT"),
            ])
            #expect(try results[2].singleValue(String.self) == "7MB")
            // SET LOCAL ended with the transaction; the connection is back in autocommit and reusable.
            #expect(try await pool.query("SELECT current_setting('work_mem')").singleValue(String.self) != "7MB")
        }
    }

    @Test func aFailedStatementSkipsTheRestAndRollsBack() async throws {
        try await TestDatabase.withPool(maxConnections: 1) { pool in
            let table = TestDatabase.uniqueName("pipe_fail")
            try await pool.query("CREATE TABLE \(table) (id int PRIMARY KEY)")
            let error = await #expect(throws: PostgresError.self) {
                try await pool.pipeline([
                    try PostgresStatement("BEGIN"),
                    try PostgresStatement("INSERT INTO \(table) VALUES ($1)", 1),
                    try PostgresStatement("INSERT INTO \(table) VALUES ($1)", 1),  // unique violation
                    try PostgresStatement("INSERT INTO \(table) VALUES ($1)", 2),  // skipped
                    try PostgresStatement("COMMIT"),  // skipped: the transaction stays failed
                ])
            }
            #expect(error?.sqlState == PostgresError.SQLState.uniqueViolation)
            // The one connection was rolled back when it came back to the pool, and works.
            #expect(try await pool.query("SELECT count(*) FROM \(table)").singleValue(Int.self) == 0)
            await TestDatabase.drop(table, using: pool)
        }
    }

    @Test func withoutBeginTheStatementsFormOneImplicitTransaction() async throws {
        try await TestDatabase.withPool { pool in
            let table = TestDatabase.uniqueName("pipe_auto")
            try await pool.query("CREATE TABLE \(table) (id int PRIMARY KEY)")
            await #expect(throws: PostgresError.self) {
                try await pool.pipeline([
                    try PostgresStatement("INSERT INTO \(table) VALUES ($1)", 1),
                    try PostgresStatement("SELECT 1 / 0"),
                ])
            }
            // Without BEGIN the statements up to the Sync form one implicit transaction, which the error
            // rolls back as a whole (the extended protocol's rule).
            #expect(try await pool.query("SELECT count(*) FROM \(table)").singleValue(Int.self) == 0)
            await TestDatabase.drop(table, using: pool)
        }
    }

    @Test func aParameterWithNULIsRefusedBeforeAnythingIsSent() async throws {
        try await TestDatabase.withPool(maxConnections: 1) { pool in
            let refused = await #expect(throws: PostgresError.self) {
                try await pool.pipeline([try PostgresStatement("SELECT 1"), try PostgresStatement("SELECT $1::text", "a\u{0}b")])
            }
            #expect(refused?.code == .encoding)
            let stillWorks = try await pool.query("SELECT 5").singleValue(Int.self)
            #expect(stillWorks == 5)
        }
    }
}

/// Statements with parameters run as named prepared statements of the session: parsed once, then reused.
@Suite(.enabled(if: TestDatabase.shouldRun, TestDatabase.skipMessage), .timeLimit(.minutes(2)))
struct PostgresPreparedStatementTests {
    static let preparedOfSession = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'rag\\_%' AND statement = $1"

    @Test func aStatementIsPreparedOnceAndReused() async throws {
        try await TestDatabase.withConnection { connection in
            let sql = "SELECT $1::int * 2 /* \(TestDatabase.uniqueName("prepared")) */"
            for value in 1...3 {
                #expect(try await connection.query(sql, value).singleValue(Int.self) == value * 2)
            }
            _ = try await connection.pipeline([try PostgresStatement(sql, 4), try PostgresStatement(sql, 5)])
            #expect(try await connection.query(Self.preparedOfSession, sql).singleValue(Int.self) == 1)
        }
    }

    @Test func aStatementPreparedInAFailedTransactionStillWorksAfterTheRollback() async throws {
        try await TestDatabase.withPool(maxConnections: 1) { pool in
            let sql = "SELECT $1::text || '!' /* \(TestDatabase.uniqueName("rolledback")) */"
            await #expect(throws: PostgresError.self) {
                try await pool.pipeline([try PostgresStatement("BEGIN"), try PostgresStatement(sql, "a"), try PostgresStatement("SELECT 1 / 0")])
            }
            let again = try await pool.query(sql, "b").singleValue(String.self)
            #expect(again == "b!")
        }
    }

    @Test func aStatementThatDoesNotParseIsNotRemembered() async throws {
        try await TestDatabase.withConnection { connection in
            // syntax_error both times: nothing half-prepared is reused.
            #expect(await Self.sqlState(of: "SELEC $1::int", on: connection) == "42601")
            #expect(await Self.sqlState(of: "SELEC $1::int", on: connection) == "42601")
            let sum = try await connection.query("SELECT $1::int + 1", 1).singleValue(Int.self)
            #expect(sum == 2)
        }
    }

    static func sqlState(of sql: String, on connection: PostgresConnection) async -> String? {
        do {
            try await connection.query(sql, 1)
            return nil
        } catch {
            return (error as? PostgresError)?.sqlState
        }
    }

    @Test func aStatementWhoseResultColumnsChangedIsPreparedAfresh() async throws {
        try await TestDatabase.withConnection { connection in
            let table = TestDatabase.uniqueName("altered")
            try await connection.query("CREATE TABLE \(table) (id int PRIMARY KEY)")
            try await connection.query("INSERT INTO \(table) VALUES (1)")
            let sql = "SELECT * FROM \(table) WHERE id = $1"
            #expect(try await connection.query(sql, 1).columns.count == 1)
            try await connection.query("ALTER TABLE \(table) ADD COLUMN note text")
            // The first run after the change may fail (SQLSTATE 0A000, the server's rule for a prepared
            // statement whose result changed); the next one is prepared again and sees the new column.
            do {
                #expect(try await connection.query(sql, 1).columns.count == 2)
            } catch let error as PostgresError {
                #expect(error.sqlState == "0A000", "\(error)")
            }
            #expect(try await connection.query(sql, 1).columns.count == 2)
            #expect(try await connection.query(sql, 1).columns.count == 2)
            try await connection.query("DROP TABLE \(table)")
        }
    }

    @Test func beyondTheSessionsCapacityStatementsRunUnnamed() async throws {
        try await TestDatabase.withConnection { connection in
            let marker = TestDatabase.uniqueName("many")
            for index in 0..<(PreparedStatements.capacity + 6) {
                let sql = "SELECT $1::int + \(index) /* \(marker) */"
                #expect(try await connection.query(sql, 1).singleValue(Int.self) == 1 + index)
            }
            let prepared = try await connection.query(
                "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'rag\\_%'").singleValue(Int.self)
            #expect(prepared == PreparedStatements.capacity)
        }
    }
}
