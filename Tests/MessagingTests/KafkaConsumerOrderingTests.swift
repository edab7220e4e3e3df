import Foundation
@_spi(Testing) import Messaging
import Synchronization
import TestSupport
import Testing

/// Records of one entity take effect in offset order, whatever their handlers' durations (SPEC §7).
@Suite("Kafka consumer ordering", .serialized, .enabled(if: TestKafka.isAvailable, "needs RAG_KAFKA_BOOTSTRAP_SERVERS (make test sets it)"))
struct KafkaConsumerOrderingTests {
    /// 3 keys × 15 versions in one partition, interleaved; a version's handler is slower the older it is,
    /// so without ordering the newest version of a key finishes first and an older one overwrites it.
    private static let keys = ["chunk-a", "chunk-b", "chunk-c"]
    private static let versions = 15

    private func produceVersions() async throws -> String {
        let topic = try await TestKafka.createTopic("ordering", partitions: 1)
        let producer = try TestKafka.producer()
        for version in 0..<Self.versions {
            for key in Self.keys {
                try await producer.send(KafkaOutgoingRecord(topic: topic, key: key, value: Array("\(version)".utf8)))
            }
        }
        await producer.shutdown()
        return topic
    }

    /// Runs a consumer with `ordering` over the versions; returns, per key, the versions in the order their
    /// handlers finished ("took effect"), and the most handlers that ran at once.
    private func consume(_ topic: String, ordering: KafkaRecordOrdering) async throws -> (applied: [String: [Int]], maxConcurrent: Int) {
        var configuration = try TestKafka.consumerConfiguration(group: TestKafka.uniqueName("ordering"), topics: [topic])
        configuration.ordering = ordering
        let applied = Mutex<[String: [Int]]>([:])
        let running = Mutex((now: 0, max: 0))
        let consumer = try KafkaConsumer(configuration: configuration, logger: TestKafka.logger)
        try await withRunningConsumer(consumer, handler: { record in
            running.withLock { $0.now += 1; $0.max = max($0.max, $0.now) }
            let version = Int(String(decoding: record.value ?? [], as: UTF8.self)) ?? -1
            try await Task.sleep(for: .milliseconds(10 * (Self.versions - version)))
            applied.withLock { $0[record.keyString ?? "", default: []].append(version) }
            running.withLock { $0.now -= 1 }
        }) {
            try await eventually("every record applied") {
                applied.withLock { $0.values.map(\.count).reduce(0, +) } >= Self.keys.count * Self.versions
            }
        }
        return (applied.withLock { $0 }, running.withLock { $0.max })
    }

    @Test("per key (the default): each key's versions apply in offset order while different keys run concurrently",
          .timeLimit(.minutes(2)))
    func perKey() async throws {
        let topic = try await produceVersions()
        let result = try await consume(topic, ordering: .perKey)
        for key in Self.keys {
            #expect(result.applied[key] == Array(0..<Self.versions), "\(key): \(result.applied[key] ?? [])")
        }
        #expect(result.maxConcurrent > 1, "different keys overlap")
        #expect(result.maxConcurrent <= Self.keys.count, "never two versions of one key at once")
    }

    @Test("per partition: one record at a time, in offset order", .timeLimit(.minutes(2)))
    func perPartition() async throws {
        let topic = try await produceVersions()
        let result = try await consume(topic, ordering: .perPartition)
        for key in Self.keys { #expect(result.applied[key] == Array(0..<Self.versions)) }
        #expect(result.maxConcurrent == 1)
    }

    @Test("unordered: records overlap freely, so an older version can take effect after a newer one", .timeLimit(.minutes(2)))
    func unordered() async throws {
        let topic = try await produceVersions()
        let result = try await consume(topic, ordering: .unordered)
        // The failure mode the ordered modes prevent: a stale version applied last.
        #expect(Self.keys.contains { result.applied[$0] != Array(0..<Self.versions) })
        #expect(result.maxConcurrent > Self.keys.count)
    }
}
