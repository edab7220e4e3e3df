import Foundation
import Testing

/// End-to-end: the built `embedder` executable, as an orchestrator runs it.
@Suite("Worker executable", .serialized, .timeLimit(.minutes(1)))
struct WorkerExecutableTests {
    @Test("invalid configuration: exits with status 2 and names every offending variable on stderr")
    func invalidConfiguration() async throws {
        let worker = try WorkerProcess(
            product: "embedder",
            environment: ["RAG_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "RAG_ADMIN_PORT": "abc"]
        )
        let status = try await worker.waitForExit(timeout: .seconds(10))
        #expect(status == 2, "stderr: \(worker.errorOutput)")
        let stderr = worker.errorOutput
        #expect(stderr.contains("RAG_DATABASE_URL: is required but not set"), "\(stderr)")
        #expect(stderr.contains("RAG_ADMIN_PORT: \"abc\" is not an integer"), "\(stderr)")
        #expect(!stderr.contains("Fatal error") && !stderr.contains("Stack trace"), "\(stderr)")
        #expect(worker.output.isEmpty)
    }

    @Test("--help-env prints every variable the worker reads")
    func helpEnv() async throws {
        let worker = try WorkerProcess(product: "embedder", environment: [:], arguments: ["--help-env"])
        #expect(try await worker.waitForExit(timeout: .seconds(10)) == 0)
        for name in [
            "RAG_KAFKA_BOOTSTRAP_SERVERS", "RAG_TOPIC_PREFIX", "RAG_DATABASE_URL", "RAG_LOG_LEVEL",
            "RAG_ADMIN_HOST", "RAG_ADMIN_PORT", "RAG_SHUTDOWN_TIMEOUT",
        ] {
            #expect(worker.output.contains("| `\(name)` |"), "\(name) missing from:\n\(worker.output)")
        }
        #expect(worker.output.contains("| `RAG_ADMIN_PORT` | `9101` |"))
    }

    @Test("valid configuration: serves /healthz, logs a redacted started line, exits 0 on SIGTERM")
    func runsAndShutsDownOnSIGTERM() async throws {
        let port = try LocalHTTP.freePort()
        let worker = try WorkerProcess(
            product: "embedder",
            environment: [
                "RAG_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
                "RAG_DATABASE_URL": "postgresql://rag:hunter2@127.0.0.1:1/rag",
                "RAG_ADMIN_HOST": "127.0.0.1",
                "RAG_ADMIN_PORT": "\(port)",
            ]
        )

        var health: (status: Int, body: String)?
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline, worker.process.isRunning {
            health = LocalHTTP.get(port: port, path: "/healthz")
            if health?.status == 200 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        try #require(health?.status == 200, "no healthy answer; stdout: \(worker.output) stderr: \(worker.errorOutput)")
        // Postgres (127.0.0.1:1) is unreachable: the worker waits for it, live but not ready.
        let readiness = LocalHTTP.get(port: port, path: "/readyz")
        #expect(readiness?.status == 503)
        #expect(readiness?.body.contains("postgres") == true, "\(readiness?.body ?? "no answer")")
        #expect(LocalHTTP.get(port: port, path: "/metrics")?.status == 200)

        let started = try self.logLines(worker.output).first { $0["message"] as? String == "started" }
        let line = try #require(started, "no started line in: \(worker.output)")
        #expect(line["worker"] as? String == "embedder")
        #expect(line["http.port"] as? Int == port)
        #expect(line["config.RAG_DATABASE_URL"] as? String == "postgresql://rag:***@127.0.0.1:1/rag")
        #expect(!worker.output.contains("hunter2"))

        worker.send(SIGTERM)
        let status = try await worker.waitForExit(timeout: .seconds(5))
        #expect(status == 0, "stdout: \(worker.output) stderr: \(worker.errorOutput)")
        let messages = try self.logLines(worker.output).compactMap { $0["message"] as? String }
        #expect(messages.contains("shutting down"))
        #expect(messages.last == "stopped")
    }

    private func logLines(_ output: String) throws -> [[String: Any]] {
        try output.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try #require(object as? [String: Any], "not a JSON object: \(line)")
        }
    }
}
