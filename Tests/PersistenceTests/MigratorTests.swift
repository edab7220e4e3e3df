import Foundation
import Persistence
import Testing

@Suite(.enabled(if: TestDatabase.shouldRun, TestDatabase.skipMessage), .timeLimit(.minutes(2)))
struct MigratorTests {
    @Test func bundledMigrationsAreIdempotentAndCreateTheTables() async throws {
        try await TestDatabase.withPool { pool in
            let migrator = Migrator(pool: pool)
            _ = try await migrator.migrate()  // may have been applied already by another test or worker
            let second = try await migrator.migrate()
            #expect(second.isEmpty)
            #expect(try await migrator.appliedVersions().contains(1))

            for table in ["chunks", "answers", "outbox", "schema_migrations"] {
                let exists = try await pool.query("SELECT to_regclass($1) IS NOT NULL", table).singleValue(Bool.self)
                #expect(exists, "table \(table) missing")
            }
            let indexes = try await pool.query(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('chunks', 'outbox') ORDER BY indexname"
            )
            let hnsw = try indexes.first { try $0.decode(String.self, column: "indexname") == "chunks_embedding_hnsw" }
            #expect(try hnsw?.decode(String.self, column: "indexdef").contains("hnsw (embedding vector_cosine_ops)") == true)
            let outbox = try indexes.first { try $0.decode(String.self, column: "indexname") == "outbox_unpublished" }
            #expect(try outbox?.decode(String.self, column: "indexdef").contains("WHERE (published_at IS NULL)") == true)

            // The visibility CHECK rejects unknown tiers.
            let bad = await #expect(throws: PostgresError.self) {
                try await pool.withTransaction { tx in
                    try await tx.query("""
                        INSERT INTO chunks (chunk_id, doc_id, seq, visibility, text, content_sha256, model, embedding)
                        VALUES ($1, 'doc', 0, 'secret', 'x', 'sha', 'm', $2)
                        """, TestDatabase.uniqueName("chunk"), [Float](repeating: 0.5, count: 384))
                }
            }
            #expect(bad?.sqlState == PostgresError.SQLState.checkViolation)
        }
    }

    @Test func outboxInsertNotifiesTheOutboxChannel() async throws {
        let url = try TestDatabase.requireURL()
        try await TestDatabase.withPool { pool in
            try await Migrator(pool: pool).migrate()
            let listener = PostgresListener(connectionString: url, channels: ["outbox"])
            listener.start()
            try await listener.waitUntilListening()
            let aggregate = TestDatabase.uniqueName("agg")
            // Inserted as already published, so a relay running against the same database ignores it.
            let id = try await pool.withTransaction { tx in
                try await tx.query("""
                    INSERT INTO outbox (aggregatetype, aggregateid, type, payload, topic, key, headers, published_at)
                    VALUES ('test', $1, 'test.event', $2, 'rag.test', $1, $3, now()) RETURNING id
                    """, aggregate, PostgresJSON(#"{"hello":"world"}"#), PostgresJSON(#"{"request-id":"r1"}"#)
                ).singleValue(UUID.self)
            }
            var iterator = listener.notifications.makeAsyncIterator()
            let notification = await iterator.next()
            #expect(notification?.channel == "outbox")
            let row = try await pool.query("SELECT payload, headers, published_at FROM outbox WHERE id = $1", id).singleRow()
            #expect(try row.decode(PostgresJSON.self, column: "payload").decode([String: String].self) == ["hello": "world"])
            #expect(try row.decode(Date?.self, column: "published_at") != nil)
            try await pool.query("DELETE FROM outbox WHERE id = $1", id)
            listener.stop()
        }
    }

    @Test func concurrentMigratorsApplyEachFileOnceAndFailedFilesLeaveNoTrace() async throws {
        let prefix = TestDatabase.uniqueName("mig")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(prefix)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
            CREATE TABLE \(prefix)_a (id int PRIMARY KEY);
            INSERT INTO \(prefix)_a VALUES (1);
            """.write(to: directory.appendingPathComponent("0001_create_a.sql"), atomically: true, encoding: .utf8)
        try """
            CREATE TABLE \(prefix)_b (id int PRIMARY KEY);
            INSERT INTO \(prefix)_a VALUES (2);
            """.write(to: directory.appendingPathComponent("0002_create_b.sql"), atomically: true, encoding: .utf8)
        try "not a migration".write(to: directory.appendingPathComponent("README.txt"), atomically: true, encoding: .utf8)
        let table = prefix + "_versions"

        try await TestDatabase.withPool(maxConnections: 8) { pool in
            let appliedCounts = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await Migrator(pool: pool, directory: directory, table: table).migrate().count }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(appliedCounts.reduce(0, +) == 2)
            #expect(try await pool.query("SELECT count(*) FROM \(prefix)_a").singleValue(Int.self) == 2)
            let migrator = Migrator(pool: pool, directory: directory, table: table)
            #expect(try await migrator.appliedVersions() == [1, 2])
            #expect(try await migrator.migrate().isEmpty)

            // A failing file: its first statement is rolled back with it, and it is not recorded.
            try """
                CREATE TABLE \(prefix)_c (id int PRIMARY KEY);
                INSERT INTO \(prefix)_missing VALUES (1);
                """.write(to: directory.appendingPathComponent("0003_broken.sql"), atomically: true, encoding: .utf8)
            let error = await #expect(throws: PostgresError.self) { try await migrator.migrate() }
            #expect(error?.sqlState == PostgresError.SQLState.undefinedTable)
            #expect(try await pool.query("SELECT to_regclass($1) IS NULL", prefix + "_c").singleValue(Bool.self))
            #expect(try await migrator.appliedVersions() == [1, 2])

            // A changed file that was already applied is refused.
            try FileManager.default.removeItem(at: directory.appendingPathComponent("0003_broken.sql"))
            try "CREATE TABLE \(prefix)_a (id int);".write(
                to: directory.appendingPathComponent("0001_create_a.sql"), atomically: true, encoding: .utf8
            )
            let changed = await #expect(throws: PostgresError.self) { try await migrator.migrate() }
            #expect(changed?.code == .migration)

            await TestDatabase.drop(prefix + "_a", prefix + "_b", table, using: pool)
        }
    }
}
