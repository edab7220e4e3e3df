import CRdKafka
public import Logging

/// Reads bounded offset ranges of partitions once, without joining a consumer group and without
/// committing: for tools that inspect a topic (`ragctl dlq`), not for processing.
///
/// Partitions are assigned directly (`rd_kafka_assign`), as `KafkaTailReader` does. A partition's range
/// ends early where the partition ends (compaction and transaction markers leave gaps in offsets, so the
/// reader also stops at end of partition). The blocking reads run on a Dispatch thread, not on the
/// cooperative pool.
public struct KafkaRangeReader: Sendable {
    public var bootstrapServers: String
    public var clientID: String
    /// Longest the whole read may take; records read until then are not returned when it expires.
    public var timeout: Duration
    private let logger: Logger

    public init(bootstrapServers: String, clientID: String, timeout: Duration = .seconds(30), logger: Logger) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
        self.timeout = timeout
        self.logger = logger
    }

    /// Every record of `topic` from each partition's low watermark to its high watermark as measured at the
    /// start (records produced meanwhile are not waited for), in offset order per partition, partitions in order.
    public func readAll(topic: String) async throws -> [KafkaRecord] {
        let admin = KafkaAdmin(bootstrapServers: bootstrapServers, timeout: timeout, logger: logger)
        var ranges: [KafkaTopicPartition: Range<Int64>] = [:]
        for partition in 0..<(try await admin.partitionCount(of: topic)) {
            let topicPartition = KafkaTopicPartition(topic: topic, partition: partition)
            let (low, high) = try await admin.watermarks(topicPartition)
            ranges[topicPartition] = low..<max(low, high)
        }
        return try await read(ranges)
    }

    /// The records at the offsets of `ranges` (a range's upper bound excluded), in offset order per partition,
    /// partitions in order. Offsets that hold no record (below the low watermark, past the end, or gaps) are
    /// simply absent from the result.
    public func read(_ ranges: [KafkaTopicPartition: Range<Int64>]) async throws -> [KafkaRecord] {
        let wanted = ranges.filter { !$0.value.isEmpty }
        guard !wanted.isEmpty else { return [] }
        let client = try RDKafkaClient(
            type: RD_KAFKA_CONSUMER,
            properties: [
                "bootstrap.servers": bootstrapServers,
                "client.id": clientID,
                // Required by librdkafka for a consumer handle; never joined (no subscribe) and never committed.
                "group.id": "\(clientID)-range-\(UInt64.random(in: 0...UInt64.max))",
                "enable.auto.commit": "false",
                "enable.auto.offset.store": "false",
                "enable.partition.eof": "true",
                // A start below the low watermark (retention deleted it meanwhile) starts at the low watermark.
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": "100",
            ],
            callbacks: RDKafkaCallbacks(logger: logger)
        )
        defer { client.destroy(flags: RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE) }
        let timeout = self.timeout
        let records: [KafkaRecord] = try await runBlocking {
            let assignError = withPartitionList(wanted.map { ($0.key, $0.value.lowerBound) }) { rd_kafka_assign(client.handle, $0) }
            guard assignError == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(assignError) }
            defer { rd_kafka_assign(client.handle, nil) }
            var open = Set(wanted.keys)
            var records: [KafkaRecord] = []
            let giveUpAt = ContinuousClock.now + timeout
            while !open.isEmpty {
                guard ContinuousClock.now < giveUpAt else {
                    throw KafkaError.timedOut("read did not reach the end of \(open.sorted { $0.description < $1.description }) within \(timeout)")
                }
                guard let message = rd_kafka_consumer_poll(client.handle, 100) else { continue }
                defer { rd_kafka_message_destroy(message) }
                let err = message.pointee.err
                guard let topicName = message.pointee.rkt.map({ String(cString: rd_kafka_topic_name($0)) }) else {
                    if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err) }
                    continue
                }
                let topicPartition = KafkaTopicPartition(topic: topicName, partition: message.pointee.partition)
                guard let range = wanted[topicPartition] else { continue }
                switch err {
                case RD_KAFKA_RESP_ERR_NO_ERROR:
                    let offset = message.pointee.offset
                    if range.contains(offset) { records.append(message.copyRecord()) }
                    if offset >= range.upperBound - 1 { open.remove(topicPartition) }
                case RD_KAFKA_RESP_ERR__PARTITION_EOF:
                    open.remove(topicPartition)
                default:
                    throw KafkaError(err, message: "reading \(topicPartition): " + String(cString: rd_kafka_err2str(err)))
                }
            }
            return records
        }
        return records.sorted { ($0.topic, $0.partition, $0.offset) < ($1.topic, $1.partition, $1.offset) }
    }
}
