import Foundation
@_spi(Testing) import Messaging
import TestSupport
import Testing

@Suite("Kafka tail reader", .enabled(if: TestKafka.isAvailable, "needs RAG_KAFKA_BOOTSTRAP_SERVERS (make test sets it)"))
struct KafkaTailReaderTests {
    @Test("reads the last N records of every partition, then follows new records, without a group", .timeLimit(.minutes(2)))
    func readsLastRecordsThenFollows() async throws {
        let topic = try await TestKafka.createTopic("tail", partitions: 3)
        let producer = try TestKafka.producer()
        // 60 records spread over 3 partitions by key; the reader starts 5 back from each partition's end.
        try await TestKafka.produce(60, to: topic, startingAt: 0, using: producer)
        let admin = KafkaAdmin(bootstrapServers: try TestKafka.requireBootstrap(), logger: TestKafka.logger)
        var expectedBacklog = 0
        for partition in Int32(0)..<3 {
            let (low, high) = try await admin.watermarks(KafkaTopicPartition(topic: topic, partition: partition))
            expectedBacklog += Int(min(5, high - low))
        }

        let observed = Observed()
        let reader = KafkaTailReader(bootstrapServers: try TestKafka.requireBootstrap(), topics: [topic], clientID: "tail-test", logger: TestKafka.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await reader.run(lastRecordsPerPartition: 5) { observed.append($0) } }
            try await eventually("the backlog") { observed.count >= expectedBacklog }
            try await TestKafka.produce(30, to: topic, startingAt: 200, using: producer)
            try await eventually("the 30 live records") { observed.count >= expectedBacklog + 30 }
            try await Task.sleep(for: .milliseconds(500))
            group.cancelAll()
        }
        await producer.shutdown()
        let indices = observed.records.compactMap { $0.headers.value("index").flatMap(Int.init) }
        #expect(observed.count == expectedBacklog + 30, "no record twice")
        #expect(Set(indices).isSuperset(of: 200..<230), "every live record")
        #expect(indices.filter { $0 < 200 }.count == expectedBacklog, "only the last 5 per partition from before")
        // Per partition, the backlog is the newest records: offsets high-5 ..< high.
        for partition in Int32(0)..<3 {
            let offsets = observed.records.filter { $0.partition == partition }.map(\.offset)
            #expect(offsets == offsets.sorted(), "in order per partition")
        }
    }
}
