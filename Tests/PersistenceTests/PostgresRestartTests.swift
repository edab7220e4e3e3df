import Foundation
import Persistence
import TestSupport
import Testing

/// Fault test: the server stops and comes back (`scripts/local-postgres.sh pause/resume`). It stops a whole
/// server, so it never uses the shared test database: it starts a server of its own in a temporary directory.
@Suite(.timeLimit(.minutes(2)))
struct PostgresRestartTests {
    /// The script in the repository this file belongs to, or else in the current directory.
    static var script: URL {
        let beside = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/local-postgres.sh")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("scripts/local-postgres.sh")
    }

    static func runScript(_ command: String, _ stateDirectory: String) async throws {
        let result = try await ProcessRunner.run(script.path, [command, stateDirectory])
        #expect(result.status == 0, "local-postgres.sh \(command) failed: \(result.errors)")
    }

    @Test func poolAndListenerSurviveAServerRestart() async throws {
        let stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("pg-restart-\(UUID().uuidString.prefix(8))").path
        try await Self.runScript("start", stateDirectory)
        var failure: (any Error)?
        do { try await stopAndRestart(stateDirectory) } catch { failure = error }
        try await Self.runScript("stop", stateDirectory)
        try? FileManager.default.removeItem(atPath: stateDirectory)
        if let failure { throw failure }
    }

    /// Connects a pool and a listener, stops the server for 3 s, starts it again and checks both recover.
    private func stopAndRestart(_ stateDirectory: String) async throws {
        let url = try String(contentsOfFile: stateDirectory + "/database.url", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let pool = PostgresPool(connectionString: url, maxConnections: 2)
        let channel = TestDatabase.uniqueName("restart")
        let listener = PostgresListener(connectionString: url, channels: [channel], reconnectDelay: .milliseconds(100), maxReconnectDelay: .milliseconds(500))
        listener.start()
        try await listener.waitUntilListening()
        #expect(try await pool.query("SELECT 1").singleValue(Int.self) == 1)

        try await Self.runScript("pause", stateDirectory)
        let down = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(down?.isConnectionFailure == true)
        try await Task.sleep(for: .seconds(3))
        let stillDown = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(stillDown?.isConnectionFailure == true)
        #expect(!listener.isListening)

        try await Self.runScript("resume", stateDirectory)
        // The first call after the server is back succeeds.
        #expect(try await pool.query("SELECT 2").singleValue(Int.self) == 2)

        let deadline = ContinuousClock.now + .seconds(30)
        while listener.connectionGeneration < 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        try await listener.waitUntilListening()
        #expect(listener.connectionGeneration == 2)
        try await pool.notify(channel: channel, payload: "back")
        var iterator = listener.notifications.makeAsyncIterator()
        #expect(await iterator.next()?.payload == "back")
        listener.stop()
        await pool.close()
    }
}
