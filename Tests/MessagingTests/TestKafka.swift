import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Messaging
import Synchronization
import TestSupport
import Testing

/// The Kafka cluster the integration tests run against: `RAG_KAFKA_BOOTSTRAP_SERVERS` (set by `make test`
/// to the local broker, or to a real Kafka), plus `RAG_BROKER_CONTROL_URL` to create topics on the local
/// broker. Tests that inject faults use a private `KafkaMockCluster` instead: faults are cluster-wide and
/// would disturb the suites running in parallel on the shared broker.
enum TestKafka {
    static let bootstrapServers = ProcessInfo.processInfo.environment["RAG_KAFKA_BOOTSTRAP_SERVERS"]
    static let controlURL = ProcessInfo.processInfo.environment["RAG_BROKER_CONTROL_URL"]
    static let runningInCI = ProcessInfo.processInfo.environment["CI"] != nil

    /// Integration tests run when a cluster is configured, and always in CI (where a missing cluster fails).
    static var isAvailable: Bool { bootstrapServers != nil || runningInCI }

    static var logger: Logger {
        var logger = Logger(label: "test.kafka")
        logger.logLevel = .warning
        return logger
    }

    static func requireBootstrap() throws -> String {
        try #require(bootstrapServers, "RAG_KAFKA_BOOTSTRAP_SERVERS is not set; `make test` starts a local broker and sets it")
    }

    /// A name no other test (or earlier run) uses.
    static func uniqueName(_ base: String) -> String {
        "test.\(base).\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Creates a topic: through the local broker's control port, or the admin API on a real cluster.
    static func createTopic(_ base: String, partitions: Int32, replicationFactor: Int16 = 1) async throws -> String {
        let name = uniqueName(base)
        if controlURL != nil {
            try await control("topics", ["name": name, "partitions": partitions, "replication_factor": replicationFactor])
        } else {
            let admin = KafkaAdmin(bootstrapServers: try requireBootstrap(), logger: logger)
            try await admin.createTopics([KafkaTopicSpec(name: name, partitions: partitions, replicationFactor: replicationFactor)])
        }
        return name
    }

    /// POSTs a JSON body to the local broker's control port.
    static func control(_ path: String, _ body: [String: any Sendable] = [:]) async throws {
        let base = try #require(controlURL, "RAG_BROKER_CONTROL_URL is not set; the control port needs the local broker")
        var request = URLRequest(url: URL(string: "\(base)/\(path)")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        #expect((200..<300).contains(status), "control \(path) answered \(status): \(String(decoding: data, as: UTF8.self))")
    }

    static func producer() throws -> KafkaProducer {
        try KafkaProducer(configuration: .init(bootstrapServers: try requireBootstrap(), clientID: "test-producer"), logger: logger)
    }

    /// A consumer configured for fast group operations against the local broker (or `bootstrapServers`).
    static func consumerConfiguration(group: String, topics: [String], bootstrapServers: String? = nil) throws -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: try bootstrapServers ?? requireBootstrap(), groupID: group, topics: topics, clientID: "test-consumer")
        configuration.sessionTimeout = .milliseconds(4000)
        configuration.maxPollInterval = .milliseconds(6000)
        configuration.commitInterval = .milliseconds(200)
        configuration.additionalProperties["heartbeat.interval.ms"] = "500"
        return configuration
    }

    /// Produces `count` records `key-<i>` / `value-<i>` with an `index` header, spread by key.
    @discardableResult
    static func produce(_ count: Int, to topic: String, startingAt start: Int = 0, using producer: KafkaProducer) async throws -> [KafkaDeliveryReport] {
        try await withThrowingTaskGroup(of: KafkaDeliveryReport.self) { group in
            for index in start..<(start + count) {
                group.addTask {
                    try await producer.send(KafkaOutgoingRecord(
                        topic: topic, key: "key-\(index)", value: Array("value-\(index)".utf8),
                        headers: [KafkaHeader("index", String(index))]))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }
}

/// Thread-safe record of what a handler saw.
final class Observed: Sendable {
    private let state = Mutex<[KafkaRecord]>([])

    func append(_ record: KafkaRecord) { state.withLock { $0.append(record) } }
    var records: [KafkaRecord] { state.withLock { $0 } }
    var count: Int { state.withLock { $0.count } }
    /// (partition, offset) pairs seen.
    var positions: Set<Position> { Set(records.map { Position(partition: $0.partition, offset: $0.offset) }) }
}

struct Position: Hashable, Sendable, Comparable {
    var partition: Int32
    var offset: Int64
    static func < (lhs: Position, rhs: Position) -> Bool { (lhs.partition, lhs.offset) < (rhs.partition, rhs.offset) }
}

/// A value shared between a test and its handlers.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}
