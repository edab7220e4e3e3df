import Foundation
import Messaging
import ModelClients
import Persistence
import TestSupport
import Testing

/// The query path under test: `PipelineHarness` (a private broker, the gateway, the embedder, a fresh
/// database, optionally the fake model server) plus the rag-chain executable, configured with the same
/// embedding provider as the embedder, and (``startRelay()``) the outbox-relay that carries its answers to
/// rag.results and so to the gateway's SSE streams.
final class RagChainHarness: @unchecked Sendable {
    let pipeline: PipelineHarness
    let environment: [String: String]
    private(set) var ragChain: ChildProcess
    private(set) var ragChainAdminPort: Int
    private(set) var relay: ChildProcess?
    static let group = "rag-chain"

    var gateway: GatewayHarness { pipeline.gateway }
    var pool: PostgresPool { pipeline.pool }

    /// - Parameters:
    ///   - provider: The embedding provider of both workers (and the fake server, if any, also serves chat).
    ///   - environment: Adds to or overrides the rag-chain's variables.
    ///   - gatewayEnvironment: Adds to or overrides the gateway's variables.
    ///   - developmentTokens: Turns on the gateway's `POST /dev/token` (for the browser UI).
    init(provider: PipelineHarness.Provider, environment extra: [String: String] = [:],
         gatewayEnvironment: [String: String] = [:], developmentTokens: Bool = false) async throws {
        pipeline = try await PipelineHarness(provider: provider, gatewayEnvironment: gatewayEnvironment, developmentTokens: developmentTokens)
        var environment = pipeline.embedderEnvironment.filter { $0.key.hasPrefix("RAG_EMBEDDING_") || $0.key.hasPrefix("RAG_MINILM_") }
        environment.merge([
            "RAG_KAFKA_BOOTSTRAP_SERVERS": pipeline.gateway.bootstrap,
            "RAG_DATABASE_URL": pipeline.databaseURL,
            "RAG_ADMIN_HOST": "127.0.0.1",
            "RAG_ADMIN_PORT": "0",
            "RAG_KAFKA_SESSION_TIMEOUT": "6s",
            "RAG_KAFKA_FETCH_WAIT": "10ms",
            "RAG_SHUTDOWN_TIMEOUT": "10s",
        ]) { $1 }
        if extra["RAG_CHAT_PROVIDER"] == "openai", let base = environment["RAG_EMBEDDING_BASE_URL"] {
            environment["RAG_CHAT_BASE_URL"] = base  // the fake server serves chat too
        }
        environment.merge(extra) { $1 }
        self.environment = environment
        ragChain = try ChildProcess(executable: "rag-chain", arguments: [], environment: environment,
                                    logPath: pipeline.gateway.directory + "/rag-chain-0.log")
        ragChainAdminPort = try await GatewayHarness.waitForStartedLine(of: ragChain)
    }

    deinit {
        ragChain.stop()
        relay?.stop()
    }

    var ragChainLog: String { ragChain.log }

    /// SIGTERM to the rag-chain (it commits and leaves its group); returns once it has exited.
    func stopRagChain() async {
        ragChain.stop()
        while ragChain.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// SIGKILL to the rag-chain: no commit, no group leave, no flush. Returns once it is gone.
    func killRagChain() async { await ragChain.kill() }

    /// Starts an outbox-relay on the rag-chain's database and broker (replacing a stopped or killed one) and
    /// waits until it is ready. `environment` adds to or overrides its variables.
    func startRelay(environment extra: [String: String] = [:]) async throws {
        var variables = [
            "RAG_KAFKA_BOOTSTRAP_SERVERS": pipeline.gateway.bootstrap,
            "RAG_DATABASE_URL": pipeline.databaseURL,
            "RAG_ADMIN_HOST": "127.0.0.1",
            "RAG_ADMIN_PORT": "0",
            "RAG_SHUTDOWN_TIMEOUT": "10s",
        ]
        variables.merge(extra) { $1 }
        let process = try ChildProcess(executable: "outbox-relay", arguments: [], environment: variables,
                                       logPath: pipeline.gateway.directory + "/outbox-relay-\(UUID().uuidString.prefix(4)).log")
        relay = process
        let port = try await GatewayHarness.waitForStartedLine(of: process)
        try await eventually("outbox-relay ready") {
            (try? await self.gateway.http.execute(HTTPRequest(url: "http://127.0.0.1:\(port)/readyz")))?.status == 200
        }
    }

    /// SIGKILL to the outbox-relay. Returns once it is gone.
    func killRelay() async { await relay?.kill() }

    /// Starts a new rag-chain process with the same variables, `environment` added or overriding.
    func startRagChain(environment extra: [String: String] = [:]) async throws {
        ragChain = try ChildProcess(executable: "rag-chain", arguments: [], environment: environment.merging(extra) { $1 },
                                    logPath: pipeline.gateway.directory + "/rag-chain-\(UUID().uuidString.prefix(4)).log")
        ragChainAdminPort = try await GatewayHarness.waitForStartedLine(of: ragChain)
    }

    /// Ingests `(docID, text, visibility)` chunks of `tenant` through the gateway and waits until every one is a row.
    func ingest(_ chunks: [(docID: String, text: String, visibility: String)], tenant: String) async throws {
        let before = try await pipeline.rowCount()
        try await pipeline.post(chunks.map { ($0.docID, 0, $0.text, $0.visibility) }, tenant: tenant)
        try await pipeline.waitForRows(before + chunks.count)
    }

    /// Asks through the gateway as `user` of `tier` and `tenant`; returns the query_id.
    func ask(_ question: String, user: String, tier: String, tenant: String, stream: Bool = false) async throws -> String {
        let token = try await gateway.token(user, tier: tier, tenant: tenant, scopes: [])
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["question": question, "stream": stream]), as: UTF8.self)
        let response = try await gateway.post("/queries", body, token: token)
        try #require(response.status == 202, "POST /queries: \(response.status) \(response.text)")
        return try #require(response.json["query_id"] as? String)
    }

    /// An `answers` row.
    struct Answer {
        var status: String
        var answer: String
        var citedChunks: [String]
        var model: String
        var userID: String
        var tenant: String
        /// The embedding model whose chunks were searched ("" when not recorded).
        var embeddingModel: String
    }

    /// The query's `answers` row, once it exists.
    func answer(_ queryID: String, timeout: Duration = .seconds(60)) async throws -> Answer {
        var found: Answer?
        try await eventually("an answer to \(queryID)", timeout: timeout) {
            let rows = try await pool.query(
                """
                SELECT status, answer, coalesce((SELECT string_agg(c->>'chunk_id', ',') FROM jsonb_array_elements(citations) c), ''),
                       model, user_id, tenant, coalesce(embedding_model, '') FROM answers WHERE query_id = $1
                """, queryID)
            guard let row = rows.first else { return false }
            found = Answer(status: try row.decode(String.self, at: 0), answer: try row.decode(String.self, at: 1),
                           citedChunks: try row.decode(String.self, at: 2).split(separator: ",").map(String.init),
                           model: try row.decode(String.self, at: 3), userID: try row.decode(String.self, at: 4),
                           tenant: try row.decode(String.self, at: 5), embeddingModel: try row.decode(String.self, at: 6))
            return true
        }
        return try #require(found)
    }

    /// The chunk_id of the stored chunk whose text is `text`.
    func chunkID(ofText text: String) async throws -> String {
        try await pool.query("SELECT chunk_id FROM chunks WHERE text = $1", text).singleRow().decode(String.self, at: 0)
    }

    /// A counter or gauge of the rag-chain's /metrics, summed over the series whose line contains `filter`.
    func metric(_ name: String, where filter: String = "") async throws -> Double {
        let response = try await gateway.http.execute(HTTPRequest(url: "http://127.0.0.1:\(ragChainAdminPort)/metrics"))
        return String(decoding: response.body, as: UTF8.self).split(separator: "\n")
            .filter { ($0.hasPrefix(name + "{") || $0.hasPrefix(name + " ")) && (filter.isEmpty || $0.contains(filter)) }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            .reduce(0, +)
    }

    /// The rag-chain group's committed offsets on rag.queries, summed over partitions.
    func committedQueries() async throws -> Int64 {
        let admin = KafkaAdmin(bootstrapServers: gateway.bootstrap, logger: GatewayHarness.logger)
        let partitions = (0..<(try await admin.partitionCount(of: gateway.topics.queries))).map {
            KafkaTopicPartition(topic: gateway.topics.queries, partition: $0)
        }
        return try await admin.committedOffsets(group: Self.group, partitions: partitions).values.reduce(0) { $0 + ($1 ?? 0) }
    }
}
