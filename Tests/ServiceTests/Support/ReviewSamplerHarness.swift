import Foundation
import Messaging
import ModelClients
import Schemas
import TestSupport
import Testing

/// The review-sampler under test: a private local broker (`ragctl broker`, 3 partitions per topic) and the
/// `review-sampler` executable as a child process, fed with rag.results records the test produces as the
/// outbox relay would (key query_id, identity and model headers, a ResultEvent value).
final class ReviewSamplerHarness: @unchecked Sendable {
    static let group = "review-sampler"

    let directory: String
    let bootstrap: String
    let topics = RAGTopics(prefix: "rag.")
    let environment: [String: String]
    let http = CurlHTTPClient()
    private let broker: ChildProcess
    private(set) var sampler: ChildProcess
    private(set) var adminPort: Int

    /// Starts a broker and a sampler; `environment` adds to or overrides the sampler's variables.
    init(environment extra: [String: String] = [:]) async throws {
        directory = NSTemporaryDirectory() + "review-sampler-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        broker = try ChildProcess(executable: "ragctl", arguments: ["broker", "--brokers", "1", "--partitions", "3", "--state-dir", directory + "/broker"],
                                  environment: [:], logPath: directory + "/broker.log")
        (bootstrap, _) = try await GatewayHarness.waitForBroker(in: directory + "/broker", process: broker)
        environment = [
            "RAG_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "RAG_KAFKA_FETCH_WAIT": "10ms",
            "RAG_KAFKA_SESSION_TIMEOUT": "6s",
            "RAG_ADMIN_HOST": "127.0.0.1",
            "RAG_ADMIN_PORT": "0",
            "RAG_SHUTDOWN_TIMEOUT": "10s",
        ].merging(extra) { $1 }
        (sampler, adminPort) = try await Self.startSampler(environment: environment, directory: directory, http: http)
    }

    deinit {
        sampler.stop()
        broker.stop()
        http.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var samplerLog: String { sampler.log }

    /// SIGTERM to the sampler (it commits and leaves its group); returns once it has exited.
    func stopSampler() async {
        sampler.stop()
        while sampler.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Starts a new sampler with the same variables, `environment` added or overriding, and waits until it is ready.
    func startSampler(environment extra: [String: String] = [:]) async throws {
        (sampler, adminPort) = try await Self.startSampler(environment: environment.merging(extra) { $1 }, directory: directory, http: http)
    }

    private static func startSampler(environment: [String: String], directory: String, http: CurlHTTPClient) async throws -> (ChildProcess, Int) {
        let process = try ChildProcess(executable: "review-sampler", arguments: [], environment: environment,
                                       logPath: directory + "/review-sampler-\(UUID().uuidString.prefix(4)).log")
        let port = try await GatewayHarness.waitForStartedLine(of: process)
        try await eventually("review-sampler ready", timeout: .seconds(30)) {
            (try? await http.execute(HTTPRequest(url: "http://127.0.0.1:\(port)/readyz")))?.status == 200
        }
        return (process, port)
    }

    // MARK: - Producing results

    /// A rag.results record as the outbox relay publishes it: key query_id, the trusted identity headers, the
    /// model headers, `outbox-id`, and the ResultEvent as the value.
    func resultRecord(_ result: ResultEvent, tier: String, outboxID: Int = 1, flag: String? = nil) -> KafkaOutgoingRecord {
        var headers = [
            KafkaHeader("user-id", "user-\(tier)"), KafkaHeader("user-tier", tier), KafkaHeader("tenant", "acme"),
            KafkaHeader("request-id", "request-\(result.queryID.prefix(8))"), KafkaHeader("model", result.model),
            KafkaHeader("model-version", result.model), KafkaHeader("prompt-version", result.promptVersion),
            KafkaHeader("schema-version", SchemaName.resultEvent.version), KafkaHeader("outbox-id", String(outboxID)),
        ]
        if let flag { headers.append(KafkaHeader("review-flag", flag)) }
        return KafkaOutgoingRecord(topic: topics.results, key: result.queryID, value: result.encoded(), headers: headers)
    }

    /// Produces `records` with one idempotent producer, each acknowledged before this returns; in order per key.
    func produce(_ records: [KafkaOutgoingRecord]) async throws {
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: bootstrap, clientID: "test-results"), logger: GatewayHarness.logger)
        for record in records { try await producer.send(record) }
        await producer.shutdown()
    }

    // MARK: - Observing

    /// How many records `topic` holds (sum of high − low watermarks over its partitions).
    func recordCount(_ topic: String) async throws -> Int64 { try await GatewayHarness.recordCount(topic, bootstrap: bootstrap) }

    /// Every record of `topic`, once `count` of them are there (in offset order per partition).
    func records(_ topic: String, count: Int) async throws -> [KafkaRecord] {
        try await GatewayHarness.records(topic, count: count, bootstrap: bootstrap)
    }

    /// The review items on rag.human-review once there are `count` records, with their records.
    func reviewItems(count: Int) async throws -> [(record: KafkaRecord, item: ReviewItem)] {
        let schemas = try SchemaRegistry.bundled()
        return try await records(topics.humanReview, count: count).map { record in
            (record, try ReviewItem.decode(record.value ?? [], schemas: schemas))
        }
    }

    /// The sampler group's committed offsets on rag.results, summed over partitions.
    func committedResults() async throws -> Int64 {
        let admin = KafkaAdmin(bootstrapServers: bootstrap, logger: GatewayHarness.logger)
        let partitions = (0..<(try await admin.partitionCount(of: topics.results))).map { KafkaTopicPartition(topic: topics.results, partition: $0) }
        return try await admin.committedOffsets(group: Self.group, partitions: partitions).values.reduce(0) { $0 + ($1 ?? 0) }
    }

    /// Waits until the sampler has committed every record on rag.results: it has handled them all.
    func waitUntilAllConsumed(timeout: Duration = .seconds(60)) async throws {
        let total = try await recordCount(topics.results)
        try await eventually("the review-sampler committed all \(total) results", timeout: timeout) {
            try await self.committedResults() == total
        }
    }

    /// Sets the sampler group's offsets on rag.results back to the start (the sampler must be stopped).
    func rewindToEarliest() async throws {
        let admin = KafkaAdmin(bootstrapServers: bootstrap, logger: GatewayHarness.logger)
        var rewind: [KafkaTopicPartition: Int64] = [:]
        for partition in 0..<(try await admin.partitionCount(of: topics.results)) {
            rewind[KafkaTopicPartition(topic: topics.results, partition: partition)] = 0
        }
        var lastError = ""
        try await eventually("the offsets are reset (the group is empty): \(lastError)", timeout: .seconds(30)) {
            do {
                try await admin.commitOffsets(group: Self.group, rewind)
                return true
            } catch {
                lastError = "\(error)"
                return false
            }
        }
    }

    /// A counter of the sampler's /metrics, summed over the series whose line contains every string of `filters`.
    func metric(_ name: String, where filters: String...) async throws -> Double {
        let response = try await http.execute(HTTPRequest(url: "http://127.0.0.1:\(adminPort)/metrics"))
        return String(decoding: response.body, as: UTF8.self).split(separator: "\n")
            .filter { line in (line.hasPrefix(name + "{") || line.hasPrefix(name + " ")) && filters.allSatisfy { line.contains($0) } }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            .reduce(0, +)
    }
}
