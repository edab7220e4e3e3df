import Metrics

/// The consumer's SPEC §9 metrics, labelled by group and topic.
struct ConsumerMetrics: Sendable {
    let group: String
    private let inFlight: Meter
    private let paused: Gauge
    private let rebalances: Counter
    private let commitLatency: Metrics.Timer

    init(group: String) {
        self.group = group
        inFlight = Meter(label: "kafka_consumer_in_flight", dimensions: [("group", group)])
        paused = Gauge(label: "kafka_consumer_paused_partitions", dimensions: [("group", group)])
        rebalances = Counter(label: "kafka_consumer_rebalance_events_total", dimensions: [("group", group)])
        commitLatency = Metrics.Timer(label: "kafka_consumer_commit_duration_seconds", dimensions: [("group", group)], preferredDisplayUnit: .seconds)
    }

    func consumed(topic: String) {
        Counter(label: "kafka_consumer_records_total", dimensions: [("group", group), ("topic", topic)]).increment()
        inFlight.increment()
    }

    func processed(topic: String, duration: Duration) {
        Metrics.Timer(label: "kafka_consumer_processing_duration_seconds", dimensions: [("group", group), ("topic", topic)],
                      preferredDisplayUnit: .seconds).recordNanoseconds(duration.nanoseconds)
        inFlight.decrement()
    }

    func failed(topic: String) {
        Counter(label: "kafka_consumer_handler_failures_total", dimensions: [("group", group), ("topic", topic)]).increment()
    }

    func pausedPartitions(_ count: Int) { paused.record(count) }
    func rebalance() { rebalances.increment() }
    func commitDuration(_ duration: Duration) { commitLatency.recordNanoseconds(duration.nanoseconds) }

    /// Records not yet done on a partition this consumer owns (see `KafkaConsumer.reportLag`).
    func lag(_ topicPartition: KafkaTopicPartition, _ records: Int64) { lagGauge(topicPartition).record(records) }
    /// A revoked partition's lag is reported by its new owner; this consumer stops exporting it.
    func forgetLag(_ topicPartition: KafkaTopicPartition) { lagGauge(topicPartition).destroy() }

    private func lagGauge(_ topicPartition: KafkaTopicPartition) -> Gauge {
        Gauge(label: "kafka_consumer_lag", dimensions: [
            ("group", group), ("topic", topicPartition.topic), ("partition", String(topicPartition.partition)),
        ])
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
