import Foundation
@_spi(Testing) import Messaging
import Testing

@Suite("Kafka tail reader", .enabled(if: TestKafka.isAvailable, "needs RAG_KAFKA_BOOTSTRAP_SERVERS (make test sets it)"),
       .disabled("fails against the local mock broker (no record read after offsets_for_times); cause not yet diagnosed"))
struct KafkaTailReaderTests {
    @Test("reads every partition from a timestamp on, then follows new records, without a group", .timeLimit(.minutes(2)))
    func readsFromTimestamp() async throws {
        let topic = try await TestKafka.createTopic("tail", partitions: 3)
        let producer = try TestKafka.producer()
        try await TestKafka.produce(30, to: topic, startingAt: 0, using: producer)
        try await Task.sleep(for: .milliseconds(1100))
        let start = Int64(Date().timeIntervalSince1970 * 1000)
        try await TestKafka.produce(30, to: topic, startingAt: 100, using: producer)

        let observed = Observed()
        let reader = KafkaTailReader(bootstrapServers: try TestKafka.requireBootstrap(), topics: [topic], clientID: "tail-test", logger: TestKafka.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await reader.run(from: start) { observed.append($0) } }
            try await eventually("the 30 recent records") { observed.count >= 30 }
            try await TestKafka.produce(30, to: topic, startingAt: 200, using: producer)
            try await eventually("the 30 live records") { observed.count >= 60 }
            group.cancelAll()
        }
        await producer.shutdown()
        let indices = Set(observed.records.compactMap { $0.headers.value("index").flatMap(Int.init) })
        #expect(indices == Set(100..<130).union(200..<230), "nothing older than the start timestamp, nothing missing")
        #expect(observed.count == 60)
    }
}
