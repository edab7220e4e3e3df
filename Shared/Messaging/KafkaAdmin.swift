import CRdKafka
public import Logging

/// Cluster administration over a short-lived librdkafka handle: topic creation (real Kafka; the local
/// mock broker pre-creates topics instead), committed offsets of a group, and partition watermarks.
///
/// Every call blocks for at most `timeout` on a Dispatch thread, never on the cooperative pool.
public struct KafkaAdmin: Sendable {
    public var bootstrapServers: String
    /// Other librdkafka properties of every handle the admin opens, such as the worker's SASL settings.
    public var additionalProperties: [String: String]
    public var timeout: Duration
    private let logger: Logger

    public init(bootstrapServers: String, additionalProperties: [String: String] = [:], timeout: Duration = .seconds(15), logger: Logger) {
        self.bootstrapServers = bootstrapServers
        self.additionalProperties = additionalProperties
        self.timeout = timeout
        self.logger = logger
    }

    /// Creates the topics; a topic that already exists is left as it is.
    public func createTopics(_ specs: [KafkaTopicSpec]) async throws {
        let timeoutMs = Int32(clamping: timeout.milliseconds)
        let client = try makeClient(type: RD_KAFKA_PRODUCER, extra: [:])
        defer { client.destroy() }
        try await runBlocking {
            var newTopics: [OpaquePointer?] = []
            defer { newTopics.forEach { rd_kafka_NewTopic_destroy($0) } }
            var errorText = [CChar](repeating: 0, count: 512)
            for spec in specs {
                guard let topic = rd_kafka_NewTopic_new(spec.name, spec.partitions, Int32(spec.replicationFactor), &errorText, errorText.count) else {
                    throw KafkaError.configuration("topic \(spec.name): \(String(errorBuffer: errorText))")
                }
                newTopics.append(topic)
                for (name, value) in spec.configs.sorted(by: { $0.key < $1.key }) {
                    rd_kafka_NewTopic_set_config(topic, name, value)
                }
            }
            let queue = rd_kafka_queue_new(client.handle)
            defer { rd_kafka_queue_destroy(queue) }
            let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
            defer { rd_kafka_AdminOptions_destroy(options) }
            rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMs, &errorText, errorText.count)
            rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, &errorText, errorText.count)
            newTopics.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreateTopics(client.handle, buffer.baseAddress, buffer.count, options, queue)
            }
            guard let event = rd_kafka_queue_poll(queue, timeoutMs + 1000) else {
                throw KafkaError.timedOut("CreateTopics got no answer within \(timeoutMs) ms")
            }
            defer { rd_kafka_event_destroy(event) }
            let eventError = rd_kafka_event_error(event)
            guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(eventError, message: rd_kafka_event_error_string(event).map { String(cString: $0) })
            }
            var count = 0
            let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count)
            for index in 0..<count {
                guard let result = results?[index] else { continue }
                let err = rd_kafka_topic_result_error(result)
                if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
                    throw KafkaError(err, message: "topic \(String(cString: rd_kafka_topic_result_name(result))): "
                        + (rd_kafka_topic_result_error_string(result).map { String(cString: $0) } ?? ""))
                }
            }
        }
        logger.info("topics ensured", metadata: ["topics": "\(specs.map(\.name))"])
    }

    /// The offsets `group` has committed for the given partitions (nil where it has none).
    public func committedOffsets(group: String, partitions: [KafkaTopicPartition]) async throws -> [KafkaTopicPartition: Int64?] {
        let timeoutMs = Int32(clamping: timeout.milliseconds)
        let client = try makeClient(type: RD_KAFKA_CONSUMER, extra: ["group.id": group, "enable.auto.commit": "false"])
        defer { client.destroy(flags: RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE) }
        return try await runBlocking {
            try withPartitionList(partitions.map { ($0, RAG_KAFKA_OFFSET_INVALID) }) { list in
                let err = rd_kafka_committed(client.handle, list, timeoutMs)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err) }
                var offsets: [KafkaTopicPartition: Int64?] = [:]
                for (topicPartition, offset) in list.entries {
                    offsets[topicPartition] = offset >= 0 ? offset : nil
                }
                return offsets
            }
        }
    }

    /// Sets `group`'s committed offsets (the next offsets to consume): a replay from an earlier point, or a
    /// skip. It joins the group for a moment and commits as its member, so the group must have no other
    /// member (stop its consumers first): if the group assigns it fewer than the partitions of `offsets`, it
    /// leaves without committing and throws.
    public func commitOffsets(group: String, _ offsets: [KafkaTopicPartition: Int64]) async throws {
        let timeout = self.timeout
        let client = try makeClient(type: RD_KAFKA_CONSUMER, extra: [
            "group.id": group, "enable.auto.commit": "false", "enable.auto.offset.store": "false",
            // If leaving the group fails, the group forgets this member soon, not after 45 s.
            "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000",
            // The workers' assignor (KafkaConsumerConfiguration): a member with another protocol is refused by
            // Kafka (INCONSISTENT_GROUP_PROTOCOL) and aborts librdkafka 2.0.2's mock cluster (an assertion).
            "partition.assignment.strategy": "cooperative-sticky",
        ])
        // librdkafka before 2.3.0 asserts when it destroys a cooperative-sticky consumer whose assignor state
        // was never set (confluentinc/librdkafka#4312), which happens now and then to this short-lived
        // member. There the handle is closed (it has left the group) but not destroyed: a few idle threads and
        // some memory until the process exits.
        defer { if rd_kafka_version() >= 0x0203_0000 { client.destroy() } }
        let topics = Set(offsets.keys.map(\.topic)).sorted()
        try await runBlocking {
            rd_kafka_poll_set_consumer(client.handle)
            let subscribed = withPartitionList(topics.map { (KafkaTopicPartition(topic: $0, partition: -1), 0) }) {
                rd_kafka_subscribe(client.handle, $0)
            }
            guard subscribed == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(subscribed) }
            defer {
                // Give the partitions back and let the revocation run before leaving: a cooperative member
                // closed straight away can stay in the group until its session times out.
                rd_kafka_unsubscribe(client.handle)
                for _ in 0..<10 {
                    if let message = rd_kafka_consumer_poll(client.handle, 50) { rd_kafka_message_destroy(message) }
                }
                rd_kafka_consumer_close(client.handle)
            }
            let wanted = Set(offsets.keys)
            let giveUpAt = ContinuousClock.now + timeout
            var assigned: Set<KafkaTopicPartition> = []
            while assigned != wanted && ContinuousClock.now < giveUpAt {
                if let message = rd_kafka_consumer_poll(client.handle, 100) { rd_kafka_message_destroy(message) }
                var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
                if rd_kafka_assignment(client.handle, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list {
                    assigned = Set(list.entries.map(\.0)).intersection(wanted)
                    rd_kafka_topic_partition_list_destroy(list)
                }
            }
            guard assigned == wanted else {
                throw KafkaError.timedOut("group \(group) assigned \(assigned.count) of \(wanted.count) partitions: it has other members")
            }
            try withPartitionList(offsets.map { ($0.key, $0.value) }) { list in
                let err = rd_kafka_commit(client.handle, list, 0)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err) }
            }
        }
        logger.info("committed offsets set", metadata: ["group": "\(group)", "offsets": "\(offsets)"])
    }

    /// The low and high watermarks (first offset, next offset to be written) of a partition.
    public func watermarks(_ topicPartition: KafkaTopicPartition) async throws -> (low: Int64, high: Int64) {
        let timeoutMs = Int32(clamping: timeout.milliseconds)
        let client = try makeClient(type: RD_KAFKA_PRODUCER, extra: [:])
        defer { client.destroy() }
        return try await runBlocking {
            var low: Int64 = 0
            var high: Int64 = 0
            let err = rd_kafka_query_watermark_offsets(client.handle, topicPartition.topic, topicPartition.partition, &low, &high, timeoutMs)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err) }
            return (low, high)
        }
    }

    /// The number of partitions of `topic`, from cluster metadata.
    public func partitionCount(of topic: String) async throws -> Int32 {
        let timeoutMs = Int32(clamping: timeout.milliseconds)
        let client = try makeClient(type: RD_KAFKA_PRODUCER, extra: [:])
        defer { client.destroy() }
        return try await runBlocking { try client.partitionCount(of: topic, timeoutMs: timeoutMs) }
    }

    /// A short-lived handle on the admin's cluster (the extensions in `KafkaAdmin+Groups.swift` use it too).
    func makeClient(type: rd_kafka_type_t, extra: [String: String]) throws -> RDKafkaClient {
        let properties = ["bootstrap.servers": bootstrapServers]
            .merging(additionalProperties) { _, new in new }
            .merging(extra) { _, new in new }
        return try RDKafkaClient(type: type, properties: properties, callbacks: RDKafkaCallbacks(logger: logger))
    }
}
