import CRdKafka
public import Logging

/// Reads every partition of some topics from a bounded distance back onwards, without joining a consumer
/// group and without committing: each instance sees every record (the gateway's SSE fan-out).
///
/// Partitions are assigned directly (`rd_kafka_assign`), each at its last `recordsPerPartition` records
/// (from its high watermark back, not before its low watermark), then followed live. Starting by record
/// count rather than by timestamp works the same on every broker (the local mock cluster does not answer
/// timestamp lookups); readers that want a time bound drop records by `timestampMilliseconds`. Records are
/// passed to `onRecord` on the reader's poll thread, in order per partition; `onRecord` must be quick
/// (hand the record on, don't process it there).
public final class KafkaTailReader: Sendable {
    private let bootstrapServers: String
    private let topics: [String]
    private let clientID: String
    private let fetchWaitMax: Duration
    private let additionalProperties: [String: String]
    private let logger: Logger

    /// - Parameters:
    ///   - fetchWaitMax: Longest a fetch waits at the broker when there is nothing new (`fetch.wait.max.ms`).
    ///   - additionalProperties: Other librdkafka properties of the reader's handles, such as the worker's SASL settings.
    public init(bootstrapServers: String, topics: [String], clientID: String, fetchWaitMax: Duration = .milliseconds(500),
                additionalProperties: [String: String] = [:], logger: Logger) {
        self.bootstrapServers = bootstrapServers
        self.topics = topics
        self.clientID = clientID
        self.fetchWaitMax = fetchWaitMax
        self.additionalProperties = additionalProperties
        self.logger = logger
    }

    /// Reads until the calling task is cancelled. Throws if the topics' partitions or their watermarks
    /// cannot be found (for example, the broker is unreachable) within `metadataTimeout`.
    public func run(
        lastRecordsPerPartition recordsPerPartition: Int64, metadataTimeout: Duration = .seconds(30),
        onAssigned: @Sendable () -> Void = {},
        onRecord: @escaping @Sendable (KafkaRecord) -> Void
    ) async throws {
        let admin = KafkaAdmin(bootstrapServers: bootstrapServers, additionalProperties: additionalProperties, timeout: metadataTimeout, logger: logger)
        var starts: [(KafkaTopicPartition, Int64)] = []
        for topic in topics {
            for partition in 0..<(try await admin.partitionCount(of: topic)) {
                let topicPartition = KafkaTopicPartition(topic: topic, partition: partition)
                let (low, high) = try await admin.watermarks(topicPartition)
                starts.append((topicPartition, max(low, high - recordsPerPartition)))
            }
        }
        let client = try RDKafkaClient(
            type: RD_KAFKA_CONSUMER,
            properties: [
                "bootstrap.servers": bootstrapServers,
                "client.id": clientID,
                // Required by librdkafka for a consumer handle; never joined (no subscribe) and never committed.
                "group.id": "\(clientID)-tail-\(UInt64.random(in: 0...UInt64.max))",
                "enable.auto.commit": "false",
                "enable.auto.offset.store": "false",
                "auto.offset.reset": "latest",
                "fetch.wait.max.ms": String(fetchWaitMax.milliseconds),
            ].merging(additionalProperties) { _, new in new },
            callbacks: RDKafkaCallbacks(logger: logger)
        )
        let assignment = starts
        let assignError: rd_kafka_resp_err_t = try await runBlocking {
            withPartitionList(assignment) { list in rd_kafka_assign(client.handle, list) }
        }
        guard assignError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            client.destroy()
            throw KafkaError(assignError)
        }
        onAssigned()
        logger.info("tail reader assigned", metadata: ["partitions": "\(assignment.count)", "topics": "\(topics)"])

        let pollThread = PollThread(name: "kafka-tail-poll") { _ in
            guard let message = rd_kafka_consumer_poll(client.handle, 100) else { return }
            defer { rd_kafka_message_destroy(message) }
            if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                onRecord(message.copyRecord())
            }
        }
        // Park until cancelled; the poll thread does the work.
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
        pollThread.requestStop()
        await pollThread.joinAsync()
        rd_kafka_assign(client.handle, nil)
        client.destroy(flags: RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE)
    }
}
