import Foundation
import Logging
import Messaging
import ModelClients
import Persistence
import TestSupport
import Testing

/// Outbox relays under test, with everything real and private to the test: its own local broker (`ragctl
/// broker`, 1 broker so `brokers/1/down` takes the whole cluster away), its own topic, a fresh database on
/// the shared test Postgres (`RAG_DATABASE_URL`), migrated, and `outbox-relay` executables as child processes.
/// Rows are written with SQL, as rag-chain and the embedder write them.
final class OutboxRelayHarness: @unchecked Sendable {
    /// One running `outbox-relay` process and its admin port.
    final class Relay: Sendable {
        let process: ChildProcess
        let adminPort: Int

        init(process: ChildProcess, adminPort: Int) {
            self.process = process
            self.adminPort = adminPort
        }
    }

    let directory: String
    let bootstrap: String
    let controlURL: String
    let topic: String
    let databaseURL: String
    let pool: PostgresPool
    let http = CurlHTTPClient()
    private let broker: ChildProcess
    private var relays: [Relay] = []

    init() async throws {
        directory = NSTemporaryDirectory() + "outbox-relay-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        broker = try ChildProcess(executable: "ragctl", arguments: ["broker", "--brokers", "1", "--partitions", "3", "--state-dir", directory + "/broker"],
                                  environment: [:], logPath: directory + "/broker.log")
        var addresses: (String, String)?
        try await eventually("broker up", timeout: .seconds(30)) { [directory, broker] in
            let bootstrap = try? String(contentsOfFile: directory + "/broker/bootstrap", encoding: .utf8)
            let control = try? String(contentsOfFile: directory + "/broker/control.url", encoding: .utf8)
            if let bootstrap, let control, !bootstrap.isEmpty, !control.isEmpty {
                addresses = (bootstrap.trimmingCharacters(in: .whitespacesAndNewlines), control.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            return addresses != nil || !broker.isRunning
        }
        (bootstrap, controlURL) = try #require(addresses, "broker exited: \(broker.log)")

        let suffix = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        topic = "outbox-test-\(suffix)"
        let shared = try #require(ProcessInfo.processInfo.environment["RAG_DATABASE_URL"], "RAG_DATABASE_URL is not set (make test sets it)")
        let admin = PostgresPool(configuration: .init(connectionString: shared, maxConnections: 1))
        _ = try await admin.query("CREATE DATABASE outbox_\(suffix)")
        await admin.close()
        databaseURL = try #require(shared.range(of: "/", options: .backwards).map { shared[..<$0.lowerBound] + "/outbox_\(suffix)" })
        pool = PostgresPool(configuration: .init(connectionString: databaseURL, maxConnections: 8))
        try await Migrator(pool: pool).migrate()
        try await control("topics", #"{"name": "\#(topic)", "partitions": 3, "replication_factor": 1}"#)
    }

    deinit {
        for relay in relays { relay.process.stop() }
        broker.stop()
        http.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
        let pool = pool
        Task { await pool.close() }
    }

    /// Starts a relay (`environment` adds to or overrides its variables) and waits until it is ready.
    @discardableResult
    func startRelay(_ environment: [String: String] = [:]) async throws -> Relay {
        var variables = [
            "RAG_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "RAG_DATABASE_URL": databaseURL,
            "RAG_ADMIN_HOST": "127.0.0.1",
            "RAG_ADMIN_PORT": "0",
            "RAG_SHUTDOWN_TIMEOUT": "10s",
            "RAG_OUTBOX_METRICS_INTERVAL": "200ms",
        ]
        variables.merge(environment) { $1 }
        let process = try ChildProcess(executable: "outbox-relay", arguments: [], environment: variables,
                                       logPath: directory + "/relay-\(relays.count).log")
        let relay = Relay(process: process, adminPort: try await GatewayHarness.waitForStartedLine(of: process))
        relays.append(relay)
        try await eventually("relay ready", timeout: .seconds(30)) {
            (try? await self.http.execute(HTTPRequest(url: "http://127.0.0.1:\(relay.adminPort)/readyz")))?.status == 200
        }
        return relay
    }

    /// Waits until a relay's listener session has run `LISTEN "outbox"`: a row inserted afterwards wakes it.
    func waitUntilListening(count: Int = 1) async throws {
        try await eventually("\(count) relay(s) listening", timeout: .seconds(30)) {
            try await self.pool.query(
                "SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN %outbox%'"
            ).singleValue(Int.self) >= count
        }
    }

    /// POSTs to the broker's control port (fault injection).
    func control(_ path: String, _ body: String = "{}") async throws {
        let response = try await http.execute(HTTPRequest(method: .post, url: "\(controlURL)/\(path)", headers: ["Content-Type": "application/json"],
                                                          body: Array(body.utf8)))
        try #require((200..<300).contains(response.status), "control \(path): \(response.status)")
    }

    /// One row as a writer inserts it, in its own transaction; returns its id. Headers carry `seq` so each
    /// record can be matched with its row.
    @discardableResult
    func insert(aggregate: String, seq: Int, type: String = "answer.ready") async throws -> String {
        try await pool.query(
            """
            INSERT INTO outbox (aggregatetype, aggregateid, type, payload, topic, key, headers)
            VALUES ('query', $1, $2, $3::jsonb, $4, $1, $5::jsonb) RETURNING id::text
            """,
            aggregate, type, #"{"query_id": "\#(aggregate)", "status": "answered", "answer": "answer \#(seq) ✓", "seq": \#(seq)}"#, topic,
            #"{"seq": "\#(seq)", "user-id": "alice", "traceparent": "00-\#(String(repeating: "a", count: 32))-\#(String(repeating: "b", count: 16))-01"}"#
        ).singleValue(String.self)
    }

    /// Inserts `rowsPerAggregate` rows for each of `aggregates`, from `writers` concurrent writers that each own
    /// some aggregates and insert their rows one transaction at a time, in seq order (a writer of one aggregate
    /// is serialised, as SPEC §6's writers are).
    func insertConcurrently(aggregates: [String], rowsPerAggregate: Int, writers: Int = 4) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                let owned = aggregates.enumerated().filter { $0.offset % writers == writer }.map(\.element)
                group.addTask {
                    for seq in 0..<rowsPerAggregate {
                        for aggregate in owned { try await self.insert(aggregate: aggregate, seq: seq) }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// `rowsPerAggregate` rows for each of `aggregates` in one statement, positions in seq order per aggregate,
    /// in runs of `run` consecutive rows of one aggregate (so a batch holds several rows of each of its aggregates).
    func insertInOneTransaction(aggregates: [String], rowsPerAggregate: Int, run: Int = 1) async throws {
        try await pool.query(
            """
            INSERT INTO outbox (aggregatetype, aggregateid, type, payload, topic, key, headers)
            SELECT 'query', aggregate, 'answer.ready',
                   jsonb_build_object('query_id', aggregate, 'status', 'answered', 'answer', 'answer ' || seq, 'seq', seq),
                   $1, aggregate, jsonb_build_object('seq', seq::text, 'user-id', 'alice')
            FROM unnest($2::text[]) AS aggregate, generate_series(0, $3 - 1) AS seq
            ORDER BY seq / $4, aggregate, seq
            """,
            topic, "{" + aggregates.joined(separator: ",") + "}", rowsPerAggregate, run)
    }

    /// Every row: id → (aggregate, position, whether published, the payload's text, the headers' text).
    func rows() async throws -> [String: (aggregate: String, position: Int64, published: Bool, payload: String, headers: [String: String])] {
        var rows: [String: (aggregate: String, position: Int64, published: Bool, payload: String, headers: [String: String])] = [:]
        for row in try await pool.query("SELECT id::text, aggregateid, position, published_at IS NOT NULL, payload::text, headers::text FROM outbox") {
            rows[try row.decode(String.self, at: 0)] = (
                try row.decode(String.self, at: 1), try row.decode(Int64.self, at: 2), try row.decode(Bool.self, at: 3),
                try row.decode(String.self, at: 4), try PostgresJSON(try row.decode(String.self, at: 5)).decode([String: String].self)
            )
        }
        return rows
    }

    func count(_ condition: String) async throws -> Int {
        try await pool.query("SELECT count(*)::int FROM outbox WHERE \(condition)").singleValue(Int.self)
    }

    /// How many records the topic holds (sum of high − low watermarks).
    func recordCount() async throws -> Int {
        let admin = KafkaAdmin(bootstrapServers: bootstrap, logger: GatewayHarness.logger)
        var total: Int64 = 0
        for partition in 0..<(try await admin.partitionCount(of: topic)) {
            let (low, high) = try await admin.watermarks(KafkaTopicPartition(topic: topic, partition: partition))
            total += high - low
        }
        return Int(total)
    }

    /// Every record of the topic, in order per partition, once the topic holds a stable number of them that
    /// covers every distinct `outbox-id` in `ids` (duplicates included).
    func allRecords(covering ids: Set<String>) async throws -> [KafkaRecord] {
        try await eventually("every row on the topic", timeout: .seconds(120)) {
            try await self.recordCount() >= ids.count
        }
        var records: [KafkaRecord] = []
        try await eventually("the topic's records read back", timeout: .seconds(120)) {
            let expected = try await self.recordCount()
            records = try await self.readRecords(count: expected)
            let seen = Set(records.compactMap { $0.headers.value("outbox-id") })
            return records.count == expected && ids.isSubset(of: seen)
        }
        return records
    }

    private func readRecords(count: Int) async throws -> [KafkaRecord] {
        let seen = RecordList()
        let reader = KafkaTailReader(bootstrapServers: bootstrap, topics: [topic], clientID: "outbox-test-reader", logger: GatewayHarness.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await reader.run(lastRecordsPerPartition: 10_000_000) { seen.append($0) } }
            try await eventually("\(count) records on \(topic)", timeout: .seconds(60)) { seen.all.count >= count }
            group.cancelAll()
        }
        return seen.all
    }

    /// A counter or gauge of a relay's /metrics, summed over the series whose line contains `filter`
    /// (nil when the relay exports no such series).
    func metric(_ name: String, of relay: Relay, where filter: String = "") async throws -> Double? {
        let response = try await http.execute(HTTPRequest(url: "http://127.0.0.1:\(relay.adminPort)/metrics"))
        let values = String(decoding: response.body, as: UTF8.self).split(separator: "\n")
            .filter { ($0.hasPrefix(name + "{") || $0.hasPrefix(name + " ")) && (filter.isEmpty || $0.contains(filter)) }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
        return values.isEmpty ? nil : values.reduce(0, +)
    }
}

/// Checks on the records an outbox relay published.
enum OutboxRecordChecks {
    /// The positions of each aggregate's records by first appearance on the topic (duplicates dropped).
    static func firstAppearances(_ records: [KafkaRecord], positions: [String: (aggregate: String, position: Int64)]) -> [String: [Int64]] {
        var seen: Set<String> = []
        var byAggregate: [String: [Int64]] = [:]
        for record in records {
            guard let id = record.headers.value("outbox-id"), let row = positions[id], seen.insert(id).inserted else { continue }
            byAggregate[row.aggregate, default: []].append(row.position)
        }
        return byAggregate
    }

    /// How many times each `outbox-id` appears.
    static func copies(_ records: [KafkaRecord]) -> [String: Int] {
        var copies: [String: Int] = [:]
        for record in records { copies[record.headers.value("outbox-id") ?? "(none)", default: 0] += 1 }
        return copies
    }
}
