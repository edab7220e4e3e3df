import Foundation
import Persistence
import Testing

@Suite(.enabled(if: TestDatabase.shouldRun, TestDatabase.skipMessage), .timeLimit(.minutes(2)))
struct PostgresTransactionTests {
    struct Boom: Error {}

    @Test func committedTransactionIsVisible() async throws {
        try await TestDatabase.withPool { pool in
            let table = TestDatabase.uniqueName("tx_commit")
            try await pool.query("CREATE TABLE \(table) (id int PRIMARY KEY, note text)")
            let value = try await pool.withTransaction { tx in
                try await tx.query("INSERT INTO \(table) VALUES ($1, $2)", 1, "one")
                try await tx.query("INSERT INTO \(table) VALUES ($1, $2)", 2, "two")
                return try await tx.query("SELECT count(*) FROM \(table)").singleValue(Int.self)
            }
            #expect(value == 2)
            #expect(try await pool.query("SELECT count(*) FROM \(table)").singleValue(Int.self) == 2)
            await TestDatabase.drop(table, using: pool)
        }
    }

    @Test func thrownErrorRollsBackEverything() async throws {
        try await TestDatabase.withPool { pool in
            let table = TestDatabase.uniqueName("tx_throw")
            try await pool.query("CREATE TABLE \(table) (id int PRIMARY KEY)")
            await #expect(throws: Boom.self) {
                try await pool.withTransaction { tx in
                    try await tx.query("INSERT INTO \(table) VALUES ($1)", 1)
                    try await tx.query("INSERT INTO \(table) VALUES ($1)", 2)
                    throw Boom()
                }
            }
            #expect(try await pool.query("SELECT count(*) FROM \(table)").singleValue(Int.self) == 0)
            await TestDatabase.drop(table, using: pool)
        }
    }

    @Test func failedStatementRollsBackTheEarlierOnes() async throws {
        try await TestDatabase.withPool { pool in
            let table = TestDatabase.uniqueName("tx_fail")
            try await pool.query("CREATE TABLE \(table) (id int PRIMARY KEY)")
            let error = await #expect(throws: PostgresError.self) {
                try await pool.withTransaction { tx in
                    try await tx.query("INSERT INTO \(table) VALUES ($1)", 1)
                    try await tx.query("INSERT INTO \(table) VALUES ($1)", 1)  // unique violation
                }
            }
            #expect(error?.sqlState == PostgresError.SQLState.uniqueViolation)
            #expect(try await pool.query("SELECT count(*) FROM \(table)").singleValue(Int.self) == 0)
            await TestDatabase.drop(table, using: pool)
        }
    }

    @Test func explicitRollbackStatementLeavesNothing() async throws {
        try await TestDatabase.withConnection { connection in
            let table = TestDatabase.uniqueName("tx_rollback")
            try await connection.query("CREATE TABLE \(table) (id int PRIMARY KEY, payload jsonb)")
            try await connection.query("BEGIN")
            try await connection.query("INSERT INTO \(table) VALUES ($1, $2)", 1, PostgresJSON(#"{"a":1}"#))
            #expect(try await connection.query("SELECT count(*) FROM \(table)").singleValue(Int.self) == 1)
            try await connection.query("ROLLBACK")
            #expect(try await connection.query("SELECT count(*) FROM \(table)").singleValue(Int.self) == 0)
            try await connection.query("DROP TABLE \(table)")
        }
    }

    @Test func cancellationRollsBack() async throws {
        try await TestDatabase.withPool { pool in
            let table = TestDatabase.uniqueName("tx_cancel")
            try await pool.query("CREATE TABLE \(table) (id int PRIMARY KEY)")
            let inserted = AsyncStream<Void>.makeStream()
            let worker = Task {
                try await pool.withTransaction { tx in
                    try await tx.query("INSERT INTO \(table) VALUES ($1)", 1)
                    inserted.continuation.yield()
                    try await Task.sleep(for: .seconds(60))
                }
            }
            var iterator = inserted.stream.makeAsyncIterator()
            _ = await iterator.next()
            worker.cancel()
            await #expect(throws: CancellationError.self) { try await worker.value }
            #expect(try await pool.query("SELECT count(*) FROM \(table)").singleValue(Int.self) == 0)
            await TestDatabase.drop(table, using: pool)
        }
    }

    @Test func transactionLeftOpenInWithConnectionIsRolledBackOnReturn() async throws {
        try await TestDatabase.withPool(maxConnections: 1) { pool in
            let table = TestDatabase.uniqueName("tx_leftopen")
            try await pool.query("CREATE TABLE \(table) (id int PRIMARY KEY)")
            try await pool.withConnection { connection in
                try await connection.query("BEGIN")
                try await connection.query("INSERT INTO \(table) VALUES ($1)", 1)
            }
            // The single pooled connection comes back idle, outside any transaction.
            try await pool.withConnection { connection throws in
                #expect(try await connection.query("SELECT count(*) FROM \(table)").singleValue(Int.self) == 0)
                // SAVEPOINT fails outside a transaction block: proof that none is open.
                let error = await #expect(throws: PostgresError.self) { try await connection.query("SAVEPOINT probe") }
                #expect(error?.sqlState == "25P01")
            }
            await TestDatabase.drop(table, using: pool)
        }
    }
}
