import FakeModelServer
import Foundation
import Messaging
import ModelClients
import Persistence
import TestSupport
import Testing

/// Gateway + embedder + a private broker + a fresh Postgres database (or a private Postgres server, for
/// outage tests) + optionally the fake model server in this process.
final class PipelineHarness: @unchecked Sendable {
    enum Provider {
        /// The embedded all-MiniLM-L6-v2 model.
        case minilm
        /// The fake OpenAI-compatible server, with these controls.
        case fake(FakeModelServer.Controls)
    }

    let gateway: GatewayHarness
    let databaseURL: String
    let pool: PostgresPool
    let fakeServer: FakeModelServer?
    private let fakeServerTask: Task<Void, any Error>?
    private let privatePostgresDirectory: String?
    let embedderEnvironment: [String: String]
    private(set) var embedder: ChildProcess
    private(set) var embedderAdminPort: Int
    static let embedderGroup = "embedder"

    /// - Parameters:
    ///   - environment: Adds to or overrides the embedder's variables.
    ///   - gatewayEnvironment: Adds to or overrides the gateway's variables.
    ///   - developmentTokens: Turns on the gateway's `POST /dev/token` (for the browser UI).
    init(provider: Provider, privatePostgres: Bool = false, environment extra: [String: String] = [:],
         gatewayEnvironment: [String: String] = [:], developmentTokens: Bool = false) async throws {
        gateway = try await GatewayHarness(environment: gatewayEnvironment, developmentTokens: developmentTokens)
        if privatePostgres {
            let directory = gateway.directory + "/postgres"
            try await Self.runScript(["scripts/local-postgres.sh", "start", directory])
            databaseURL = try String(contentsOfFile: directory + "/database.url", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            privatePostgresDirectory = directory
        } else {
            databaseURL = try await Self.freshDatabase()
            privatePostgresDirectory = nil
        }
        pool = PostgresPool(configuration: .init(connectionString: databaseURL, maxConnections: 2))

        var environment = [
            "RAG_KAFKA_BOOTSTRAP_SERVERS": gateway.bootstrap,
            "RAG_DATABASE_URL": databaseURL,
            "RAG_ADMIN_HOST": "127.0.0.1",
            "RAG_ADMIN_PORT": "0",
            "RAG_KAFKA_SESSION_TIMEOUT": "6s",
            "RAG_KAFKA_FETCH_WAIT": "10ms",
            "RAG_SHUTDOWN_TIMEOUT": "10s",
            "RAG_MINILM_MODEL_DIR": MiniLMModel.directory,
        ]
        switch provider {
        case .minilm:
            environment["RAG_EMBEDDING_PROVIDER"] = "minilm"
            fakeServer = nil
            fakeServerTask = nil
        case .fake(let controls):
            let server = FakeModelServer(configuration: .init(embeddingModels: ["fake-embedding"], defaultDimensions: 384, controls: controls))
            fakeServerTask = Task { try await server.run() }
            let endpoints = try await server.listening()
            fakeServer = server
            environment["RAG_EMBEDDING_PROVIDER"] = "openai"
            environment["RAG_EMBEDDING_MODEL"] = "fake-embedding"
            environment["RAG_EMBEDDING_BASE_URL"] = endpoints.baseURL
            environment["RAG_EMBEDDING_TIMEOUT"] = "5s"
        }
        environment.merge(extra) { $1 }
        embedderEnvironment = environment
        embedder = try ChildProcess(executable: "embedder", arguments: [], environment: environment, logPath: gateway.directory + "/embedder-0.log")
        embedderAdminPort = try await GatewayHarness.waitForStartedLine(of: embedder)
    }

    deinit {
        embedder.stop()
        fakeServerTask?.cancel()
        let pool = pool
        let directory = privatePostgresDirectory
        Task {
            await pool.close()
            if let directory { try? await Self.runScript(["scripts/local-postgres.sh", "stop", directory]) }
        }
    }

    var embedderLog: String { embedder.log }

    /// SIGKILL the embedder and start a new one.
    func killAndRestartEmbedder() async throws {
        await embedder.kill()
        embedder = try ChildProcess(executable: "embedder", arguments: [], environment: embedderEnvironment,
                                    logPath: gateway.directory + "/embedder-\(UUID().uuidString.prefix(4)).log")
        embedderAdminPort = try await GatewayHarness.waitForStartedLine(of: embedder)
    }

    /// SIGTERM to the embedder (it commits and leaves its group); returns once it has exited.
    func stopEmbedder() async {
        embedder.stop()
        while embedder.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Starts a new embedder with the first one's variables, `environment` added or overriding.
    func startEmbedder(environment extra: [String: String] = [:]) async throws {
        embedder = try ChildProcess(executable: "embedder", arguments: [], environment: embedderEnvironment.merging(extra) { $1 },
                                    logPath: gateway.directory + "/embedder-\(UUID().uuidString.prefix(4)).log")
        embedderAdminPort = try await GatewayHarness.waitForStartedLine(of: embedder)
    }

    /// Stops the private Postgres server (data and port kept) and starts it again later.
    func pausePostgres() async throws { try await Self.runScript(["scripts/local-postgres.sh", "pause", try #require(privatePostgresDirectory)]) }
    func resumePostgres() async throws { try await Self.runScript(["scripts/local-postgres.sh", "resume", try #require(privatePostgresDirectory)]) }

    /// A new, empty database on the shared test server (`RAG_DATABASE_URL`); returns its URL.
    static func freshDatabase() async throws -> String {
        let shared = try #require(ProcessInfo.processInfo.environment["RAG_DATABASE_URL"], "RAG_DATABASE_URL is not set (make test sets it)")
        let name = "pipeline_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let admin = PostgresPool(configuration: .init(connectionString: shared, maxConnections: 1))
        _ = try await admin.query("CREATE DATABASE \(name)")
        await admin.close()
        return try #require(shared.range(of: "/", options: .backwards).map { shared[..<$0.lowerBound] + "/" + name })
    }

    /// The private Postgres server's processes, to make the host hang (SIGSTOP) and come back (SIGCONT).
    func postgresProcesses() throws -> PostgresServerProcesses {
        try PostgresServerProcesses(stateDirectory: try #require(privatePostgresDirectory))
    }

    /// `count` chunks in documents of `perDocument`, as POST /chunks batches; returns the texts by chunk key.
    static func corpus(_ count: Int, perDocument: Int = 50, tag: String = "") -> [(docID: String, seq: Int, text: String, visibility: String)] {
        let visibilities = ["public", "internal", "confidential"]
        return (0..<count).map { index in
            let document = index / perDocument
            return ("doc-\(document)", index % perDocument,
                    "Document \(document), part \(index % perDocument)\(tag): the quarterly report covers item \(index) in some detail.",
                    visibilities[document % 3])
        }
    }

    /// Posts the corpus through the gateway as an enterprise user of `tenant`.
    func post(_ chunks: [(docID: String, seq: Int, text: String, visibility: String)], tenant: String = "acme") async throws {
        let token = try await gateway.token("ingest-bot", tier: "enterprise", tenant: tenant)
        var byDocument: [String: [String]] = [:]
        var order: [String] = []
        for chunk in chunks {
            if byDocument[chunk.docID] == nil { order.append(chunk.docID) }
            byDocument[chunk.docID, default: []].append(#"{"doc_id":"\#(chunk.docID)","seq":\#(chunk.seq),"text":"\#(chunk.text)","visibility":"\#(chunk.visibility)"}"#)
        }
        for docID in order {
            let response = try await gateway.post("/chunks", #"{"chunks":[\#(byDocument[docID]!.joined(separator: ","))]}"#, token: token)
            try #require(response.status == 202, "POST /chunks: \(response.status) \(response.text)")
        }
    }

    /// Chunks reported by the outbox's document.indexed events, by status.
    func outboxChunks() async throws -> [String: Int] {
        let rows = try await pool.query(
            "SELECT payload->>'status', sum((payload->>'chunks')::int)::int FROM outbox WHERE type = 'document.indexed' GROUP BY 1")
        var chunks: [String: Int] = [:]
        for row in rows { chunks[try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1) }
        return chunks
    }

    func rowCount() async throws -> Int {
        (try? await pool.query("SELECT count(*) FROM chunks").singleRow().decode(Int.self, at: 0)) ?? -1
    }

    func waitForRows(_ count: Int, timeout: Duration = .seconds(180)) async throws {
        try await eventually("\(count) rows in chunks", timeout: timeout) { try await self.rowCount() >= count }
    }

    /// A counter or gauge of the embedder's /metrics, summed over label sets matching `filter`.
    func metric(_ name: String, where filter: String = "") async throws -> Double {
        try await metricSeries(name, where: filter).reduce(0, +)
    }

    /// The value of every series of the embedder's metric `name` whose line contains `filter`.
    func metricSeries(_ name: String, where filter: String = "") async throws -> [Double] {
        let response = try await gateway.http.execute(HTTPRequest(url: "http://127.0.0.1:\(embedderAdminPort)/metrics"))
        let text = String(decoding: response.body, as: UTF8.self)
        return text.split(separator: "\n")
            .filter { ($0.hasPrefix(name + "{") || $0.hasPrefix(name + " ")) && (filter.isEmpty || $0.contains(filter)) }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
    }

    /// The group's committed offset per partition of rag.chunks (nil: none yet).
    func committedOffsets() async throws -> [Int32: Int64?] {
        let admin = KafkaAdmin(bootstrapServers: gateway.bootstrap, logger: GatewayHarness.logger)
        let partitions = (0..<(try await admin.partitionCount(of: gateway.topics.chunks))).map {
            KafkaTopicPartition(topic: gateway.topics.chunks, partition: $0)
        }
        let committed = try await admin.committedOffsets(group: Self.embedderGroup, partitions: partitions)
        return Dictionary(uniqueKeysWithValues: committed.map { ($0.key.partition, $0.value) })
    }

    static func runScript(_ arguments: [String]) async throws {
        let result = try await ProcessRunner.run("bash", arguments, currentDirectory: GatewayHarness.repositoryRoot)
        try #require(result.status == 0, "\(arguments.joined(separator: " ")): \(result.text)\(result.errors)")
    }
}

/// Where the MiniLM model files are (`make deps` puts them there).
enum MiniLMModel {
    static let directory = ProcessInfo.processInfo.environment["RAG_MINILM_MODEL_DIR"]
        ?? GatewayHarness.repositoryRoot + "/.data/models/all-MiniLM-L6-v2"
    static var isPresent: Bool { FileManager.default.fileExists(atPath: directory + "/model.safetensors") }
}
