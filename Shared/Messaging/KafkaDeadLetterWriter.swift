/// Sends records that cannot be processed to the dead-letter topic (SPEC §3, §7).
///
/// The original key and value are kept byte for byte; the original headers are kept and the DLQ headers
/// are added: `dlq-stage`, `dlq-reason` (a machine-readable code), `dlq-error` (human text),
/// `original-topic`, `original-partition`, `original-offset`, `original-timestamp`, `attempts`, and
/// `model-version` / `prompt-id` where a model was involved.
public struct KafkaDeadLetterWriter: Sendable {
    public let producer: KafkaProducer
    public let topic: String
    /// The stage writing here, e.g. `embedder`; goes into `dlq-stage`.
    public let stage: String

    public init(producer: KafkaProducer, topic: String, stage: String) {
        self.producer = producer
        self.topic = topic
        self.stage = stage
    }

    /// Why a record is dead-lettered.
    public struct Failure: Sendable {
        public var reason: String
        public var error: String
        public var attempts: Int
        public var modelVersion: String?
        public var promptID: String?

        public init(reason: String, error: String, attempts: Int = 1, modelVersion: String? = nil, promptID: String? = nil) {
            self.reason = reason
            self.error = error
            self.attempts = attempts
            self.modelVersion = modelVersion
            self.promptID = promptID
        }
    }

    /// Produces the dead letter and waits for the broker's acknowledgement; only then may the original
    /// record's offset be committed.
    @discardableResult
    public func send(_ original: KafkaRecord, _ failure: Failure) async throws -> KafkaDeliveryReport {
        try await producer.send(deadLetter(for: original, failure))
    }

    /// The record `send` produces; exposed so callers can inspect or batch it.
    public func deadLetter(for original: KafkaRecord, _ failure: Failure) -> KafkaOutgoingRecord {
        let added: [KafkaHeader] = [
            KafkaHeader("dlq-stage", stage),
            KafkaHeader("dlq-reason", failure.reason),
            KafkaHeader("dlq-error", failure.error),
            KafkaHeader("original-topic", original.topic),
            KafkaHeader("original-partition", String(original.partition)),
            KafkaHeader("original-offset", String(original.offset)),
            KafkaHeader("original-timestamp", original.timestampMilliseconds.map(String.init) ?? ""),
            KafkaHeader("attempts", String(failure.attempts)),
        ]
        + (failure.modelVersion.map { [KafkaHeader("model-version", $0)] } ?? [])
        + (failure.promptID.map { [KafkaHeader("prompt-id", $0)] } ?? [])
        let names = Set(added.map(\.name))
        return KafkaOutgoingRecord(topic: topic, key: original.key, value: original.value,
                                   headers: original.headers.removing(names) + added)
    }
}
