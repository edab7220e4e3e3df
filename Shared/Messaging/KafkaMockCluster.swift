import CRdKafka
public import Logging

/// librdkafka's built-in mock cluster: real Kafka protocol over TCP on 127.0.0.1, with consumer groups,
/// the idempotent producer and fault injection. Hosted by `ragctl broker` for local runs and tests.
///
/// It has no CreateTopics admin API (2.0.2), so topics are created here with `createTopic`. Faults can
/// only be injected from the hosting process; `ragctl broker` exposes them over an HTTP control port.
public final class KafkaMockCluster: Sendable {
    private let client: RDKafkaClient
    private let cluster: ClusterHandle
    /// The brokers' `host:port` list, for `bootstrap.servers`.
    public let bootstrapServers: String
    public let brokerCount: Int32

    public init(brokers: Int32, logger: Logger) throws {
        // The mock cluster lives inside an ordinary client instance; it serves connections on its own threads.
        self.client = try RDKafkaClient(type: RD_KAFKA_PRODUCER, properties: ["log_level": "3"], callbacks: RDKafkaCallbacks(logger: logger))
        guard let cluster = rd_kafka_mock_cluster_new(client.handle, brokers) else {
            client.destroy()
            throw KafkaError.configuration("could not start a mock cluster with \(brokers) brokers")
        }
        self.cluster = ClusterHandle(pointer: cluster)
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
        self.brokerCount = brokers
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster.pointer)
        client.destroy()
    }

    public func createTopic(_ spec: KafkaTopicSpec) throws {
        try check(rd_kafka_mock_topic_create(cluster.pointer, spec.name, spec.partitions, Int32(spec.replicationFactor)))
    }

    /// The next `errors.count` requests of Kafka protocol API `apiKey` (0 = Produce, 1 = Fetch,
    /// 8 = OffsetCommit, …) fail with these error codes, in order.
    public func pushRequestErrors(apiKey: Int16, errors: [Int32]) {
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0) }
        codes.withUnsafeBufferPointer { buffer in
            rd_kafka_mock_push_request_errors_array(cluster.pointer, apiKey, buffer.count, buffer.baseAddress)
        }
    }

    /// Clears pending request errors for one API.
    public func clearRequestErrors(apiKey: Int16) {
        rd_kafka_mock_clear_request_errors(cluster.pointer, apiKey)
    }

    /// Takes a broker down (connections closed, new ones refused) or brings it back.
    public func setBroker(_ brokerID: Int32, up: Bool) throws {
        try check(up ? rd_kafka_mock_broker_set_up(cluster.pointer, brokerID) : rd_kafka_mock_broker_set_down(cluster.pointer, brokerID))
    }

    /// Adds round-trip latency to every response of one broker.
    public func setRoundTripTime(broker brokerID: Int32, milliseconds: Int32) throws {
        try check(rd_kafka_mock_broker_set_rtt(cluster.pointer, brokerID, milliseconds))
    }

    /// Moves a partition's leadership to another broker (-1: no leader).
    public func setPartitionLeader(topic: String, partition: Int32, broker brokerID: Int32) throws {
        try check(rd_kafka_mock_partition_set_leader(cluster.pointer, topic, partition, brokerID))
    }

    private func check(_ err: rd_kafka_resp_err_t) throws {
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err) }
    }

    /// `rd_kafka_mock_cluster_t *`: the mock cluster's functions are thread-safe (they post to its thread).
    private struct ClusterHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }
}
