import Foundation
import Persistence
import Testing

@Suite(.enabled(if: TestDatabase.shouldRun, TestDatabase.skipMessage), .timeLimit(.minutes(2)))
struct PostgresConnectionTests {
    @Test func parameterisedRoundTripWithNullsAndUnicode() async throws {
        try await TestDatabase.withConnection { connection in
            let table = TestDatabase.uniqueName("roundtrip")
            try await connection.query("""
                CREATE TABLE \(table) (
                    id int PRIMARY KEY, s text, n bigint, d double precision, b boolean, u uuid,
                    ts timestamptz, j jsonb, bytes bytea, small int
                )
                """)

            let tricky = "emoji 😀🚀👩‍👩‍👧, CJK 漢字かな한국어, quotes ' \" `, backslash \\ , $1 ;-- DROP TABLE x; NUL-free\ttab\nnewline"
            let uuid = UUID()
            let date = Date(timeIntervalSince1970: 1_700_000_000.123456)
            let bytes = Data([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff])
            let json = #"{"name": "Zoë 🚀", "n": [1, 2.5, null], "nested": {"ok": true}}"#

            let inserted = try await connection.query(
                "INSERT INTO \(table) (id, s, n, d, b, u, ts, j, bytes, small) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                1, tricky, Int64.max, -1.25e-300, true, uuid, date, PostgresJSON(json), bytes, Int32(-7)
            )
            #expect(inserted.affectedRows == 1)
            #expect(inserted.commandTag == "INSERT 0 1")

            // Row 2: every nullable column NULL, via a literal nil and via typed optionals.
            let missingText: String? = nil
            let missingDate: Date? = nil
            try await connection.query(
                "INSERT INTO \(table) (id, s, n, d, b, u, ts, j, bytes, small) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                2, missingText, nil, nil, nil, nil, missingDate, nil, nil, nil
            )
            // Row 3: the empty string is not NULL.
            try await connection.query("INSERT INTO \(table) (id, s) VALUES ($1, $2)", 3, "")

            let rows = try await connection.query("SELECT id, s, n, d, b, u, ts, j, bytes, small FROM \(table) ORDER BY id")
            #expect(rows.count == 3)
            #expect(rows.columns.map(\.name) == ["id", "s", "n", "d", "b", "u", "ts", "j", "bytes", "small"])

            let first = rows[0]
            #expect(try first.decode(Int.self, column: "id") == 1)
            #expect(try first.decode(String.self, column: "s") == tricky)
            #expect(try first.decode(Int64.self, column: "n") == Int64.max)
            #expect(try first.decode(Double.self, column: "d") == -1.25e-300)
            #expect(try first.decode(Bool.self, column: "b") == true)
            #expect(try first.decode(UUID.self, column: "u") == uuid)
            #expect(try first.decode(String.self, column: "u") == uuid.uuidString.lowercased())
            let readDate = try first.decode(Date.self, column: "ts")
            #expect(abs(readDate.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.000_002)
            let readJSON = try first.decode(PostgresJSON.self, column: "j")
            struct Doc: Decodable, Equatable { let name: String; let n: [Double?]; let nested: [String: Bool] }
            #expect(try readJSON.decode(Doc.self) == Doc(name: "Zoë 🚀", n: [1, 2.5, nil], nested: ["ok": true]))
            #expect(try JSONDecoder().decode(Doc.self, from: first.decode(Data.self, column: "j")).name == "Zoë 🚀")
            #expect(try first.decode(Data.self, column: "bytes") == bytes)
            #expect(try first.decode(Int32.self, column: "small") == -7)

            let second = rows[1]
            #expect(second.values.dropFirst().allSatisfy { $0 == nil })
            #expect(try second.decode(String?.self, column: "s") == nil)
            #expect(try second.decode(Date?.self, column: "ts") == nil)
            #expect(try second.decode(Data?.self, column: "bytes") == nil)
            let nullError = #expect(throws: PostgresError.self) { try second.decode(String.self, column: "s") }
            #expect(nullError?.code == .decoding)

            #expect(try rows[2].decode(String?.self, column: "s") == "")

            // The tricky text also survives as a parameter in a WHERE clause.
            let found = try await connection.query("SELECT count(*) FROM \(table) WHERE s = $1", tricky).singleValue(Int.self)
            #expect(found == 1)
            try await connection.query("DROP TABLE \(table)")
        }
    }

    @Test func timestampsDecodeInAnyOffsetAndDates() async throws {
        try await TestDatabase.withConnection { connection in
            let row = try await connection.query("""
                SELECT '2024-02-29 23:59:59.5+05:30'::timestamptz AS a,
                       '1969-12-31 23:59:59'::timestamp AS b,
                       '2000-01-01'::date AS c,
                       now() AS d
                """).singleRow()
            #expect(try row.decode(Date.self, column: "a") == Date(timeIntervalSince1970: 1_709_231_399.5))
            #expect(try row.decode(Date.self, column: "b") == Date(timeIntervalSince1970: -1))
            #expect(try row.decode(Date.self, column: "c") == Date(timeIntervalSince1970: 946_684_800))
            #expect(abs(try row.decode(Date.self, column: "d").timeIntervalSinceNow) < 300)
            // A session in another time zone still decodes to the same instant.
            try await connection.query("SET TimeZone = 'America/St_Johns'")
            let shifted = try await connection.query("SELECT '2024-02-29 18:29:59.5+00'::timestamptz").singleValue(Date.self)
            #expect(shifted == Date(timeIntervalSince1970: 1_709_231_399.5))
        }
    }

    @Test func badStatementsGiveServerErrorsNotConnectionFailures() async throws {
        try await TestDatabase.withConnection { connection in
            let syntax = await #expect(throws: PostgresError.self) { try await connection.query("SELEC 1") }
            #expect(syntax?.sqlState == "42601")
            #expect(syntax?.code == .server)
            #expect(syntax?.isConnectionFailure == false)
            #expect(syntax?.message.contains("syntax error") == true)

            let missing = TestDatabase.uniqueName("no_such_table")
            let undefined = await #expect(throws: PostgresError.self) { try await connection.query("SELECT * FROM \(missing)") }
            #expect(undefined?.sqlState == PostgresError.SQLState.undefinedTable)
            #expect(undefined?.isConnectionFailure == false)

            let table = TestDatabase.uniqueName("constraint")
            try await connection.query("CREATE TEMP TABLE \(table) (id int PRIMARY KEY)")
            try await connection.query("INSERT INTO \(table) VALUES ($1)", 1)
            let duplicate = await #expect(throws: PostgresError.self) { try await connection.query("INSERT INTO \(table) VALUES ($1)", 1) }
            #expect(duplicate?.sqlState == PostgresError.SQLState.uniqueViolation)
            #expect(duplicate?.detail?.contains("(id)=(1)") == true)

            let nul = await #expect(throws: PostgresError.self) { try await connection.query("SELECT $1::text", "a\u{0}b") }
            #expect(nul?.code == .encoding)

            // The connection is still fine afterwards.
            #expect(connection.isUsable)
            #expect(try await connection.query("SELECT 1 + 1").singleValue(Int.self) == 2)
        }
    }

    @Test func connectingToAClosedPortIsAConnectionFailure() async throws {
        _ = try TestDatabase.requireURL()
        let error = await #expect(throws: PostgresError.self) {
            try await PostgresConnection.connect(to: "postgresql://rag@127.0.0.1:1/rag", connectTimeoutSeconds: 2)
        }
        #expect(error?.isConnectionFailure == true)
        #expect(error?.code == .connectionFailed)
        #expect(error?.sqlState == nil)

        let pool = PostgresPool(connectionString: "postgresql://rag@127.0.0.1:1/rag", maxConnections: 2)
        let poolError = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(poolError?.isConnectionFailure == true)
        #expect(pool.statistics.open == 0)
        await pool.close()
    }

    @Test func cancellingTheTaskCancelsTheRunningStatement() async throws {
        try await TestDatabase.withConnection { connection in
            let started = ContinuousClock.now
            let sleeper = Task { try await connection.query("SELECT pg_sleep(30)") }
            try await Task.sleep(for: .milliseconds(300))
            sleeper.cancel()
            let error = await #expect(throws: PostgresError.self) { try await sleeper.value }
            #expect(error?.sqlState == PostgresError.SQLState.queryCanceled)
            #expect(ContinuousClock.now - started < .seconds(10))
            // The cancel request may arrive late and would then hit the next statement: the session is done.
            #expect(!connection.isUsable)
            let reuse = await #expect(throws: PostgresError.self) { try await connection.query("SELECT 1") }
            #expect(reuse?.isConnectionFailure == true)
        }
    }

    @Test func closedConnectionThrowsClosed() async throws {
        let connection = try await PostgresConnection.connect(to: try TestDatabase.requireURL())
        await connection.close()
        await connection.close()
        #expect(!connection.isUsable)
        let error = await #expect(throws: PostgresError.self) { try await connection.query("SELECT 1") }
        #expect(error?.code == .closed)
        #expect(error?.isConnectionFailure == false)
    }
}
