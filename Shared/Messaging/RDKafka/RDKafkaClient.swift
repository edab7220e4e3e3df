import CRdKafka
import Logging

/// Owns one `rd_kafka_t` handle and the callback context registered as its opaque.
///
/// librdkafka handles are thread-safe, so the class is `Sendable`; the callbacks run on whichever
/// thread serves the handle's queue (the owning producer/consumer's poll thread).
final class RDKafkaClient: @unchecked Sendable {
    /// The handle. Valid until `destroy(flags:)`.
    let handle: OpaquePointer
    let callbacks: RDKafkaCallbacks
    private let callbacksPointer: Unmanaged<RDKafkaCallbacks>

    /// Creates a producer or consumer handle from librdkafka properties (`CONFIGURATION.md` names).
    init(type: rd_kafka_type_t, properties: [String: String], callbacks: RDKafkaCallbacks) throws {
        let conf = try RDKafkaClient.makeConfiguration(properties)
        let context = Unmanaged.passRetained(callbacks)
        rd_kafka_conf_set_opaque(conf, context.toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, message in
            guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
            let callbacks = Unmanaged<RDKafkaCallbacks>.fromOpaque(opaque).takeUnretainedValue()
            callbacks.log(level: level, facility: facility.map { String(cString: $0) } ?? "",
                          message: message.map { String(cString: $0) } ?? "")
        }
        rd_kafka_conf_set_error_cb(conf) { _, err, reason, opaque in
            guard let opaque else { return }
            let callbacks = Unmanaged<RDKafkaCallbacks>.fromOpaque(opaque).takeUnretainedValue()
            callbacks.logger.warning("kafka client error", metadata: [
                "code": "\(String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(err))))",
                "reason": "\(reason.map { String(cString: $0) } ?? "")",
            ])
            callbacks.error?(rd_kafka_resp_err_t(err))
        }
        if callbacks.deliveryReport != nil {
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let message, let opaque else { return }
                Unmanaged<RDKafkaCallbacks>.fromOpaque(opaque).takeUnretainedValue().deliveryReport?(message)
            }
        }
        if callbacks.rebalance != nil {
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
                guard let rk, let partitions, let opaque else { return }
                Unmanaged<RDKafkaCallbacks>.fromOpaque(opaque).takeUnretainedValue().rebalance?(rk, err, partitions)
            }
        }
        if callbacks.offsetCommit != nil {
            rd_kafka_conf_set_offset_commit_cb(conf) { _, err, offsets, opaque in
                guard let opaque else { return }
                Unmanaged<RDKafkaCallbacks>.fromOpaque(opaque).takeUnretainedValue().offsetCommit?(err, offsets)
            }
        }

        var errorText = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &errorText, errorText.count) else {
            // rd_kafka_new takes ownership of the conf only on success.
            rd_kafka_conf_destroy(conf)
            context.release()
            throw KafkaError.configuration(String(errorBuffer: errorText))
        }
        self.handle = handle
        self.callbacks = callbacks
        self.callbacksPointer = context
    }

    /// Destroys the handle and releases the callback context. Call exactly once.
    func destroy(flags: Int32 = 0) {
        rd_kafka_destroy_flags(handle, flags)
        callbacksPointer.release()
    }

    /// The number of partitions of `topic`, from cluster metadata (which the client also keeps, so a
    /// producer's first record to the topic need not wait for it). Blocks for up to `timeoutMs`.
    func partitionCount(of topic: String, timeoutMs: Int32) throws -> Int32 {
        let topicHandle = rd_kafka_topic_new(handle, topic, nil)
        defer { rd_kafka_topic_destroy(topicHandle) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 0, topicHandle, &metadata, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(err) }
        defer { rd_kafka_metadata_destroy(metadata) }
        guard metadata.pointee.topic_cnt == 1 else { throw KafkaError(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) }
        let topicMetadata = metadata.pointee.topics[0]
        guard topicMetadata.err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(topicMetadata.err) }
        return topicMetadata.partition_cnt
    }

    /// The client's fatal error, if librdkafka raised one (idempotent producer sequence errors, fencing).
    func fatalError() -> KafkaError? {
        var text = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(handle, &text, text.count)
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return KafkaError(err, message: String(errorBuffer: text), isFatal: true)
    }

    static func makeConfiguration(_ properties: [String: String]) throws -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorText = [CChar](repeating: 0, count: 512)
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, name, value, &errorText, errorText.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError.configuration("\(name)=\(value): \(String(errorBuffer: errorText))")
            }
        }
        return conf
    }
}

/// The callbacks one handle may call. Set before the handle is created; never changed after.
final class RDKafkaCallbacks: Sendable {
    let logger: Logger
    /// Client-level errors (after logging); `_FATAL` means the handle is unusable.
    let error: (@Sendable (rd_kafka_resp_err_t) -> Void)?
    let deliveryReport: (@Sendable (UnsafePointer<rd_kafka_message_t>) -> Void)?
    let rebalance: (@Sendable (OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)?
    let offsetCommit: (@Sendable (rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> Void)?

    init(
        logger: Logger,
        error: (@Sendable (rd_kafka_resp_err_t) -> Void)? = nil,
        deliveryReport: (@Sendable (UnsafePointer<rd_kafka_message_t>) -> Void)? = nil,
        rebalance: (@Sendable (OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)? = nil,
        offsetCommit: (@Sendable (rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> Void)? = nil
    ) {
        self.logger = logger
        self.error = error
        self.deliveryReport = deliveryReport
        self.rebalance = rebalance
        self.offsetCommit = offsetCommit
    }

    /// librdkafka's syslog levels mapped onto swift-log.
    func log(level: Int32, facility: String, message: String) {
        let swiftLevel: Logger.Level = switch level {
        case ...3: .error
        case 4: .warning
        case 5, 6: .info
        default: .debug
        }
        logger.log(level: swiftLevel, "\(message)", metadata: ["facility": "\(facility)", "source": "librdkafka"])
    }
}

extension UnsafeMutablePointer where Pointee == rd_kafka_topic_partition_list_t {
    /// The list's entries as (topic-partition, offset) pairs.
    var entries: [(KafkaTopicPartition, Int64)] {
        (0..<Int(pointee.cnt)).map { index in
            let element = pointee.elems[index]
            return (KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition), element.offset)
        }
    }
}

/// Builds a `rd_kafka_topic_partition_list_t`, hands it to `body`, and destroys it afterwards.
func withPartitionList<T>(
    _ entries: [(KafkaTopicPartition, Int64)],
    _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws -> T
) rethrows -> T {
    let list = rd_kafka_topic_partition_list_new(Int32(max(entries.count, 1)))!
    defer { rd_kafka_topic_partition_list_destroy(list) }
    for (topicPartition, offset) in entries {
        rd_kafka_topic_partition_list_add(list, topicPartition.topic, topicPartition.partition).pointee.offset = offset
    }
    return try body(list)
}

extension UnsafeMutablePointer where Pointee == rd_kafka_message_t {
    /// Copies the message out of librdkafka's memory. Must be called on the original pointer:
    /// librdkafka finds the message's headers and timestamp from its address.
    func copyRecord() -> KafkaRecord {
        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer?
        if rd_kafka_message_headers(self, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
            var index = 0
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(headerList, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
                headers.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "", value: bytes))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(self, &timestampType)
        let message = pointee
        return KafkaRecord(
            topic: String(cString: rd_kafka_topic_name(message.rkt)),
            partition: message.partition,
            offset: message.offset,
            key: message.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.key_len)) },
            value: message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: message.len)) },
            headers: headers,
            timestampMilliseconds: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp
        )
    }
}

extension String {
    /// Decodes a NUL-terminated C error buffer.
    init(errorBuffer: [CChar]) {
        let bytes = errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self = String(decoding: bytes, as: UTF8.self)
    }
}
