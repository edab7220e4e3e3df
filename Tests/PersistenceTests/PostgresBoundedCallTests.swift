import Foundation
import Persistence
import TestSupport
import Testing

/// Every call is bounded: a slow statement by the server's `statement_timeout`, a host that hangs without
/// resetting the connection by the client's own wait.
@Suite(.timeLimit(.minutes(2)))
struct PostgresBoundedCallTests {
    @Test func aStatementLongerThanTheCallTimeoutIsEndedByTheServer() async throws {
        let url = try TestDatabase.requireURL()
        let pool = PostgresPool(configuration: .init(connectionString: url, maxConnections: 1, callTimeout: .seconds(1)))
        let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT pg_sleep(20)") }
        #expect(error?.sqlState == PostgresError.SQLState.queryCanceled, "statement_timeout ends it: \(String(describing: error))")
        #expect(error?.isDataRejection == false, "a timeout is retried, never dead-lettered")
        // The session itself is fine and is reused.
        #expect(try await pool.query("SELECT 1").singleValue(Int.self) == 1)
        await pool.close()
    }

    @Test func aCancelledStatementsSessionIsNeverLentAgain() async throws {
        let url = try TestDatabase.requireURL()
        let pool = PostgresPool(configuration: .init(connectionString: url, maxConnections: 1))
        let firstBackend = try await pool.query("SELECT pg_backend_pid()").singleValue(Int.self)
        let sleeper = Task { try await pool.query("SELECT pg_sleep(30)") }
        try await eventually("the statement is running") {
            try await TestDatabase.withConnection { admin in
                try await admin.query("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'SELECT pg_sleep%'", firstBackend)
                    .singleValue(Int.self) == 1
            }
        }
        sleeper.cancel()
        _ = await sleeper.result
        // A late cancel request could hit whatever that session runs next, so the pool opened a new one.
        let secondBackend = try await pool.query("SELECT pg_backend_pid(), pg_sleep(0.5)").rows[0].decode(Int.self, at: 0)
        #expect(secondBackend != firstBackend)
        await pool.close()
    }

    @Test func aHungServerFailsCallsWithinTheBoundAndWorkResumesAfterwards() async throws {
        let stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("pg-hang-\(UUID().uuidString.prefix(8))").path
        try await PostgresRestartTests.runScript("start", stateDirectory)
        var failure: (any Error)?
        do { try await freezeAndThaw(stateDirectory) } catch { failure = error }
        try await PostgresRestartTests.runScript("stop", stateDirectory)
        try? FileManager.default.removeItem(atPath: stateDirectory)
        if let failure { throw failure }
    }

    private func freezeAndThaw(_ stateDirectory: String) async throws {
        let url = try String(contentsOfFile: stateDirectory + "/database.url", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let pool = PostgresPool(configuration: .init(connectionString: url, maxConnections: 2, connectTimeoutSeconds: 2, callTimeout: .seconds(2)))
        try await pool.query("CREATE TABLE hang_probe (id int PRIMARY KEY)")
        #expect(try await pool.query("SELECT count(*) FROM hang_probe").singleValue(Int.self) == 0)

        let server = try PostgresServerProcesses(stateDirectory: stateDirectory)
        server.freeze()
        defer { server.thaw() }
        // An open session: the statement is sent, nothing answers; the client gives up after 2 s + grace.
        let started = ContinuousClock.now
        let hung = await #expect(throws: PostgresError.self) { try await pool.query("INSERT INTO hang_probe VALUES (1)") }
        let waited = ContinuousClock.now - started
        #expect(hung?.code == .timedOut && hung?.isConnectionFailure == true, "\(String(describing: hung))")
        #expect(waited >= .seconds(2) && waited < .seconds(30), "bounded by the call timeout, not by TCP: \(waited)")
        // A new session: connecting is bounded by connect_timeout.
        let connecting = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(connecting?.isConnectionFailure == true)

        server.thaw()
        try await eventually("the server answers again") { (try? await pool.query("SELECT 1").singleValue(Int.self)) == 1 }
        await pool.close()
    }
}

@Suite struct PostgresErrorClassificationTests {
    @Test func dataAndIntegrityErrorsRejectTheRecordEverythingElseIsRetried() {
        func server(_ sqlState: String) -> PostgresError { PostgresError(code: .server, sqlState: sqlState, message: "x") }
        // Data exceptions (22: U+0000 in jsonb is 22P05) and integrity violations (23).
        for state in ["22P05", "22021", "22001", "23505", "23502", "23514"] {
            #expect(server(state).isDataRejection, "\(state)")
        }
        #expect(PostgresError(code: .encoding, message: "NUL").isDataRejection)
        // Connection, transaction rollback, resources, operator intervention, system, deployment errors.
        for state in ["08006", "40001", "40P01", "53100", "53300", "57014", "57P01", "58030", "42P01", "42703"] {
            #expect(!server(state).isDataRejection, "\(state)")
        }
        #expect(!PostgresError(code: .timedOut, message: "hung", isConnectionFailure: true).isDataRejection)
        #expect(!PostgresError(code: .connectionLost, message: "gone").isDataRejection)
    }
}
