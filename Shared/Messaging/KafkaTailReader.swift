import CRdKafka
public import Logging

/// Reads every partition of some topics from a point in time onwards, without joining a consumer group
/// and without committing: each instance sees every record (the gateway's SSE fan-out).
///
/// Partitions are assigned directly (`rd_kafka_assign`) at the offsets of `startTimestamp` (milliseconds
/// since the epoch), found with `rd_kafka_offsets_for_times`; a partition with nothing that recent starts
/// at its end. Records are passed to `onRecord` on the reader's poll thread, in order per partition;
/// `onRecord` must be quick (hand the record on, don't process it there).
public final class KafkaTailReader: Sendable {
    private let bootstrapServers: String
    private let topics: [String]
    private let clientID: String
    private let logger: Logger

    public init(bootstrapServers: String, topics: [String], clientID: String, logger: Logger) {
        self.bootstrapServers = bootstrapServers
        self.topics = topics
        self.clientID = clientID
        self.logger = logger
    }

    /// Reads until the calling task is cancelled. Throws if the topics' partitions cannot be found
    /// (for example, the broker is unreachable) within `metadataTimeout`.
    public func run(
        from startTimestamp: Int64, metadataTimeout: Duration = .seconds(30),
        onRecord: @escaping @Sendable (KafkaRecord) -> Void
    ) async throws {
        let admin = KafkaAdmin(bootstrapServers: bootstrapServers, timeout: metadataTimeout, logger: logger)
        var partitions: [KafkaTopicPartition] = []
        for topic in topics {
            let count = try await admin.partitionCount(of: topic)
            partitions += (0..<count).map { KafkaTopicPartition(topic: topic, partition: $0) }
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
            ],
            callbacks: RDKafkaCallbacks(logger: logger)
        )
        let timeoutMs = Int32(clamping: metadataTimeout.milliseconds)
        let starts = partitions.map { ($0, startTimestamp) }
        let assignError: rd_kafka_resp_err_t = try await runBlocking {
            withPartitionList(starts) { list in
                let err = rd_kafka_offsets_for_times(client.handle, list, timeoutMs)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { return err }
                // A partition with no record at or after the timestamp answers -1: start at its end.
                for index in 0..<Int(list.pointee.cnt) where list.pointee.elems[index].offset < 0 {
                    list.pointee.elems[index].offset = Int64(RD_KAFKA_OFFSET_END)
                }
                return rd_kafka_assign(client.handle, list)
            }
        }
        guard assignError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            client.destroy()
            throw KafkaError(assignError)
        }
        logger.info("tail reader assigned", metadata: ["partitions": "\(partitions.count)", "topics": "\(topics)"])

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
