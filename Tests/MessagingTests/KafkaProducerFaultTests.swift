import Foundation
import Logging
@_spi(Testing) import Messaging
import TestSupport
import Testing

/// Runs on a private in-process mock cluster, not the shared test broker: its faults are cluster-wide
/// (the next Produce requests of any client fail, a broker goes down for every topic it leads or
/// coordinates), and would hit the suites running in parallel — a consumer group whose coordinator is
/// down past `session.timeout.ms` loses its partitions and gets uncommitted records redelivered.
@Suite("Kafka producer under broker faults", .serialized)
struct KafkaProducerFaultTests {
    /// Kafka protocol error codes injected into Produce requests (API key 0).
    let notLeader: Int32 = 6, requestTimedOut: Int32 = 7, notEnoughReplicas: Int32 = 19

    @Test("request errors, a leader change and a broker outage: every record lands exactly once", .timeLimit(.minutes(4)))
    func exactlyOnceUnderFaults() async throws {
        let cluster = try KafkaMockCluster(brokers: 3, logger: TestKafka.logger)
        let topic = TestKafka.uniqueName("faults")
        try cluster.createTopic(KafkaTopicSpec(name: topic, partitions: 3, replicationFactor: 3))
        var configuration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "fault-test")
        configuration.deliveryTimeout = .seconds(90)
        configuration.additionalProperties["retry.backoff.ms"] = "50"
        let producer = try KafkaProducer(configuration: configuration, logger: TestKafka.logger)

        // 1. The next Produce requests fail with retriable errors.
        cluster.pushRequestErrors(apiKey: 0, errors: [notLeader, requestTimedOut, notEnoughReplicas, notLeader, requestTimedOut])
        try await TestKafka.produce(1000, to: topic, startingAt: 0, using: producer)

        // 2. Leadership moves while records are in flight.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await TestKafka.produce(1000, to: topic, startingAt: 1000, using: producer) }
            group.addTask {
                for partition in 0..<Int32(3) {
                    try cluster.setPartitionLeader(topic: topic, partition: partition, broker: 2)
                }
            }
            try await group.waitForAll()
        }

        // 3. The leader goes down for two seconds while records are sent.
        try cluster.setBroker(2, up: false)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await TestKafka.produce(1000, to: topic, startingAt: 2000, using: producer) }
            group.addTask {
                try await Task.sleep(for: .seconds(2))
                try cluster.setBroker(2, up: true)
            }
            try await group.waitForAll()
        }
        await producer.shutdown()

        // The log holds exactly 3,000 records, each index once.
        let admin = KafkaAdmin(bootstrapServers: cluster.bootstrapServers, logger: TestKafka.logger)
        var logged: Int64 = 0
        for partition in 0..<Int32(3) {
            let marks = try await admin.watermarks(KafkaTopicPartition(topic: topic, partition: partition))
            logged += marks.high - marks.low
        }
        #expect(logged == 3000, "no duplicate or missing record in the log")

        let observed = Observed()
        let consumer = try KafkaConsumer(
            configuration: TestKafka.consumerConfiguration(group: TestKafka.uniqueName("faults"), topics: [topic],
                                                           bootstrapServers: cluster.bootstrapServers),
            logger: TestKafka.logger)
        try await withRunningConsumer(consumer, handler: { observed.append($0) }) {
            try await eventually("3,000 records consumed") {
                Set(observed.records.compactMap { $0.headers.value("index") }).count >= 3000
            }
        }
        // Each index at exactly one position: the producer's retries wrote no record twice. (Positions, not
        // deliveries: a consumer may legitimately redeliver a record after losing its partitions.)
        let positions = Dictionary(grouping: observed.records) { $0.headers.value("index") ?? "?" }
            .mapValues { Set($0.map { Position(partition: $0.partition, offset: $0.offset) }).count }
        #expect(positions.count == 3000)
        #expect(positions.values.allSatisfy { $0 == 1 })
        withExtendedLifetime(cluster) {}
    }
}
