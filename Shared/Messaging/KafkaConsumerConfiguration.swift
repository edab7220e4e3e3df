/// How a `KafkaConsumer` joins its group and how much work it keeps in flight.
///
/// Offsets are always committed manually (`enable.auto.commit=false`) and assignment is
/// cooperative-sticky, so a rebalance moves only the partitions that must move.
public struct KafkaConsumerConfiguration: Sendable {
    public var bootstrapServers: String
    public var groupID: String
    public var topics: [String]
    public var clientID: String
    /// Records handed to the handler and not yet finished, over all partitions. When reached, every
    /// partition is paused (the poll loop keeps polling) until half of them finish.
    public var maxInFlight = 256
    /// The same bound for one partition; that partition alone is paused.
    public var maxInFlightPerPartition = 64
    /// Which records may be processed at the same time; records of one lane take effect in offset order.
    public var ordering: KafkaRecordOrdering = .perKey
    /// How often finished work is committed (asynchronously); also on revoke and shutdown (synchronously).
    public var commitInterval: Duration = .seconds(1)
    /// How long a revoked partition's in-flight records may take to finish before they are left for
    /// redelivery to the partition's next owner.
    public var revokeTimeout: Duration = .seconds(10)
    /// How long graceful shutdown waits for in-flight records before abandoning them (uncommitted).
    public var shutdownTimeout: Duration = .seconds(10)
    /// A handler that throws is retried after this delay, doubling up to `maxRetryBackoff`.
    public var retryBackoff: Duration = .milliseconds(200)
    public var maxRetryBackoff: Duration = .seconds(10)
    public var sessionTimeout: Duration = .seconds(45)
    public var maxPollInterval: Duration = .seconds(300)
    /// Longest a fetch waits at the broker when there is nothing new (`fetch.wait.max.ms`).
    public var fetchWaitMax: Duration = .milliseconds(500)
    /// Where a group without committed offsets starts: "earliest" or "latest".
    public var autoOffsetReset = "earliest"
    /// Any other librdkafka property; these win over the fields above.
    public var additionalProperties: [String: String] = [:]

    public init(bootstrapServers: String, groupID: String, topics: [String], clientID: String) {
        self.bootstrapServers = bootstrapServers
        self.groupID = groupID
        self.topics = topics
        self.clientID = clientID
    }

    /// A worker's consumer: the session timeout, fetch wait and extra client properties (SASL) its
    /// configuration gives. `max.poll.interval.ms` is one second above the session timeout, at least 60 s: the
    /// poll loop never waits for handlers, so it only has to outlast the session.
    public init(
        bootstrapServers: String, groupID: String, topics: [String], clientID: String,
        sessionTimeout: Duration, fetchWaitMax: Duration, properties: [String: String]
    ) {
        self.init(bootstrapServers: bootstrapServers, groupID: groupID, topics: topics, clientID: clientID)
        self.sessionTimeout = sessionTimeout
        self.maxPollInterval = max(sessionTimeout + .seconds(1), .seconds(60))
        self.fetchWaitMax = fetchWaitMax
        self.additionalProperties = properties
    }

    var librdkafkaProperties: [String: String] {
        var properties = [
            "bootstrap.servers": bootstrapServers,
            "group.id": groupID,
            "client.id": clientID,
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "partition.assignment.strategy": "cooperative-sticky",
            "auto.offset.reset": autoOffsetReset,
            "session.timeout.ms": String(sessionTimeout.milliseconds),
            "max.poll.interval.ms": String(maxPollInterval.milliseconds),
            "enable.partition.eof": "false",
            "fetch.wait.max.ms": String(fetchWaitMax.milliseconds),
        ]
        properties.merge(additionalProperties) { _, new in new }
        return properties
    }
}
