import CRdKafka

/// An error from Kafka: librdkafka's error code, its name and a human message.
///
/// A struct with an open `code` rather than a large enum, so new librdkafka codes need no API change.
/// `isRetriable` says whether trying the same operation again can succeed (broker down, timeout,
/// leader change); `isFatal` says the client instance is unusable and must be recreated.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// librdkafka's `rd_kafka_resp_err_t` value (negative codes are client-side, positive are broker codes).
    public let code: Int32
    /// librdkafka's name for the code, e.g. `_MSG_TIMED_OUT` or `NOT_LEADER_FOR_PARTITION`.
    public let name: String
    /// What went wrong, for people.
    public let message: String
    public let isRetriable: Bool
    public let isFatal: Bool

    public init(code: Int32, name: String, message: String, isRetriable: Bool, isFatal: Bool = false) {
        self.code = code
        self.name = name
        self.message = message
        self.isRetriable = isRetriable
        self.isFatal = isFatal
    }

    init(_ err: rd_kafka_resp_err_t, message: String? = nil, isFatal: Bool = false) {
        self.init(
            code: err.rawValue,
            name: String(cString: rd_kafka_err2name(err)),
            message: message ?? String(cString: rd_kafka_err2str(err)),
            isRetriable: KafkaError.retriableCodes.contains(err),
            isFatal: isFatal
        )
    }

    /// A configuration problem detected before talking to any broker.
    static func configuration(_ message: String) -> KafkaError {
        KafkaError(code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, name: "_INVALID_ARG", message: message, isRetriable: false)
    }

    /// The operation did not finish within its deadline; the outcome may still be unknown.
    static func timedOut(_ message: String) -> KafkaError {
        KafkaError(code: RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue, name: "_TIMED_OUT", message: message, isRetriable: true)
    }

    /// The client was shut down before the operation completed.
    static func shutdown(_ message: String) -> KafkaError {
        KafkaError(code: RD_KAFKA_RESP_ERR__DESTROY.rawValue, name: "_DESTROY", message: message, isRetriable: false)
    }

    public var description: String { "Kafka error \(name) (\(code)): \(message)" }

    /// Codes for which trying again later can succeed without changing the request.
    private static let retriableCodes: Set<rd_kafka_resp_err_t> = [
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE,
        RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__QUEUE_FULL,
        RD_KAFKA_RESP_ERR__RESOLVE, RD_KAFKA_RESP_ERR__WAIT_COORD, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION,
        RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
        RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR, RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED,
    ]
}
