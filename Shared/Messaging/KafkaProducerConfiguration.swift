/// How a `KafkaProducer` talks to the cluster. Defaults are the safe ones SPEC §7 asks for:
/// `acks=all` and the idempotent producer, so broker retries never duplicate or reorder a record.
public struct KafkaProducerConfiguration: Sendable {
    public var bootstrapServers: String
    public var clientID: String
    /// How long librdkafka keeps trying to deliver one record (`delivery.timeout.ms`), retries included.
    public var deliveryTimeout: Duration = .seconds(30)
    /// How long records wait to be batched together (`linger.ms`). 1 ms: every producer of the platform sits
    /// on a request's path (a 202 waits for the gateway's acknowledgement, an answer for the relay's), and
    /// records sent while a request is in flight are batched anyway.
    public var linger: Duration = .milliseconds(1)
    /// Any other librdkafka property; these win over the fields above.
    public var additionalProperties: [String: String] = [:]

    public init(bootstrapServers: String, clientID: String) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
    }

    var librdkafkaProperties: [String: String] {
        var properties = [
            "bootstrap.servers": bootstrapServers,
            "client.id": clientID,
            "acks": "all",
            "enable.idempotence": "true",
            "delivery.timeout.ms": String(deliveryTimeout.milliseconds),
            "linger.ms": String(linger.milliseconds),
        ]
        properties.merge(additionalProperties) { _, new in new }
        return properties
    }
}

extension Duration {
    /// Whole milliseconds, rounded down; what librdkafka's `*.ms` properties take.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
