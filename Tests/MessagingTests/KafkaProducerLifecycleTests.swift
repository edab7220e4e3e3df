import Foundation
import Logging
@_spi(Testing) import Messaging
import ServiceLifecycle
import TestSupport
import Testing

/// A producer that is gone never leaves a `send` waiting, and a fatal one stops its worker. Runs on a
/// private mock cluster (brokers are taken down).
@Suite("Kafka producer lifecycle", .serialized)
struct KafkaProducerLifecycleTests {
    private func makeProducer(_ cluster: KafkaMockCluster, deliveryTimeout: Duration = .seconds(60)) throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "lifecycle-test")
        configuration.deliveryTimeout = deliveryTimeout
        return try KafkaProducer(configuration: configuration, logger: TestKafka.logger)
    }

    private func record(_ topic: String, _ index: Int) -> KafkaOutgoingRecord {
        KafkaOutgoingRecord(topic: topic, key: "k\(index)", value: Array("v\(index)".utf8))
    }

    @Test("a send after shutdown fails at once with _DESTROY", .timeLimit(.minutes(1)))
    func sendAfterShutdown() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: TestKafka.logger)
        let topic = TestKafka.uniqueName("after-shutdown")
        try cluster.createTopic(KafkaTopicSpec(name: topic, partitions: 1, replicationFactor: 1))
        let producer = try makeProducer(cluster)
        try await producer.send(record(topic, 0))
        await producer.shutdown()
        let error = await #expect(throws: KafkaError.self) { try await producer.send(record(topic, 1)) }
        #expect(error?.name == "_DESTROY" && error?.isRetriable == false)
        withExtendedLifetime(cluster) {}
    }

    @Test("records still pending when the final flush times out fail with a purge error instead of hanging",
          .timeLimit(.minutes(1)))
    func pendingAtFlushTimeout() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: TestKafka.logger)
        let topic = TestKafka.uniqueName("flush-timeout")
        try cluster.createTopic(KafkaTopicSpec(name: topic, partitions: 1, replicationFactor: 1))
        let producer = try makeProducer(cluster)
        try await producer.send(record(topic, 0))  // connected, metadata known

        try cluster.setBroker(1, up: false)
        let pending = (1...20).map { index in Task { try await producer.send(record(topic, index)) } }
        try await Task.sleep(for: .milliseconds(300))
        await producer.shutdown(timeout: .seconds(1))
        for task in pending {
            let error = await #expect(throws: KafkaError.self) { try await task.value }
            #expect(error?.name.hasPrefix("_PURGE") == true, "\(String(describing: error))")
        }
        withExtendedLifetime(cluster) {}
    }

    @Test("a fatal error ends run() with that error, and later sends fail fast", .timeLimit(.minutes(1)))
    func fatalErrorStopsTheService() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: TestKafka.logger)
        let topic = TestKafka.uniqueName("fatal")
        try cluster.createTopic(KafkaTopicSpec(name: topic, partitions: 1, replicationFactor: 1))
        let producer = try makeProducer(cluster)
        try await producer.send(record(topic, 0))
        let service = Task { try await producer.run() }
        producer.simulateFatalError()
        let error = await #expect(throws: KafkaError.self) { try await service.value }
        #expect(error?.isFatal == true)
        #expect(producer.fatalError != nil)
        await #expect(throws: KafkaError.self) { try await producer.send(record(topic, 1)) }
        withExtendedLifetime(cluster) {}
    }

    @Test("graceful shutdown of its service group flushes and ends run() cleanly", .timeLimit(.minutes(1)))
    func gracefulShutdownFlushes() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: TestKafka.logger)
        let topic = TestKafka.uniqueName("graceful")
        try cluster.createTopic(KafkaTopicSpec(name: topic, partitions: 1, replicationFactor: 1))
        let producer = try makeProducer(cluster)
        let group = ServiceGroup(configuration: .init(services: [.init(service: producer)], logger: TestKafka.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await producer.send(record(topic, 0))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let error = await #expect(throws: KafkaError.self) { try await producer.send(record(topic, 1)) }
        #expect(error?.name == "_DESTROY")
        withExtendedLifetime(cluster) {}
    }
}
