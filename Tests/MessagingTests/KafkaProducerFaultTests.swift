import Foundation
import Logging
@_spi(Testing) import Messaging
import Testing

@Suite("Kafka producer under broker faults", .serialized,
       .enabled(if: TestKafka.isAvailable && TestKafka.hasFaultInjection, "needs the local broker's control port (make test)"))
struct KafkaProducerFaultTests {
    /// Kafka protocol error codes injected into Produce requests (API key 0).
    let notLeader = 6, requestTimedOut = 7, notEnoughReplicas = 19

    @Test("request errors, a leader change and a broker outage: every record lands exactly once", .timeLimit(.minutes(4)))
    func exactlyOnceUnderFaults() async throws {
        let topic = try await TestKafka.createTopic("faults", partitions: 3, replicationFactor: 3)
        var configuration = KafkaProducerConfiguration(bootstrapServers: try TestKafka.requireBootstrap(), clientID: "fault-test")
        configuration.deliveryTimeout = .seconds(90)
        configuration.additionalProperties["retry.backoff.ms"] = "50"
        let producer = try KafkaProducer(configuration: configuration, logger: TestKafka.logger)

        // 1. The next Produce requests fail with retriable errors.
        try await TestKafka.control("request-errors", ["api_key": 0, "errors": [notLeader, requestTimedOut, notEnoughReplicas, notLeader, requestTimedOut]])
        try await TestKafka.produce(1000, to: topic, startingAt: 0, using: producer)

        // 2. Leadership moves while records are in flight.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await TestKafka.produce(1000, to: topic, startingAt: 1000, using: producer) }
            group.addTask {
                for partition in 0..<3 {
                    try await TestKafka.control("partitions/leader", ["topic": topic, "partition": partition, "broker": 2])
                }
            }
            try await group.waitForAll()
        }

        // 3. The leader goes down for two seconds while records are sent.
        try await TestKafka.control("brokers/2/down")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await TestKafka.produce(1000, to: topic, startingAt: 2000, using: producer) }
            group.addTask {
                try await Task.sleep(for: .seconds(2))
                try await TestKafka.control("brokers/2/up")
            }
            try await group.waitForAll()
        }
        await producer.shutdown()

        // The log holds exactly 3,000 records, each index once.
        let admin = KafkaAdmin(bootstrapServers: try TestKafka.requireBootstrap(), logger: TestKafka.logger)
        var logged: Int64 = 0
        for partition in 0..<Int32(3) {
            let marks = try await admin.watermarks(KafkaTopicPartition(topic: topic, partition: partition))
            logged += marks.high - marks.low
        }
        #expect(logged == 3000, "no duplicate or missing record in the log")

        let observed = Observed()
        let consumer = try KafkaConsumer(
            configuration: TestKafka.consumerConfiguration(group: TestKafka.uniqueName("faults"), topics: [topic]), logger: TestKafka.logger)
        try await withRunningConsumer(consumer, handler: { observed.append($0) }) {
            try await eventually("3,000 records consumed") { observed.count >= 3000 }
        }
        let counts = Dictionary(grouping: observed.records) { $0.headers.value("index") ?? "?" }.mapValues(\.count)
        #expect(counts.count == 3000)
        #expect(counts.values.allSatisfy { $0 == 1 })
    }
}
