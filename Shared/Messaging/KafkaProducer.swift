import CRdKafka
public import Logging
import Synchronization

/// Produces records and reports each one's delivery.
///
/// `send` returns once the broker has acknowledged the record (acks=all) or librdkafka gave up on it.
/// One dedicated thread serves librdkafka's delivery reports (`rd_kafka_poll`); nothing blocks Swift's
/// cooperative pool. Call `shutdown()` before dropping the producer so buffered records are flushed.
public final class KafkaProducer: Sendable {
    private let client: RDKafkaClient
    private let logger: Logger
    private let deliveryTimeout: Duration
    private let pollThread: PollThread
    private let isShutDown = Atomic<Bool>(false)

    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws {
        self.logger = logger
        self.deliveryTimeout = configuration.deliveryTimeout
        let callbacks = RDKafkaCallbacks(logger: logger, deliveryReport: { message in
            // The per-record context was retained in `send`; this is its one release.
            guard let opaque = message.pointee._private else { return }
            let delivery = Unmanaged<DeliveryContinuation>.fromOpaque(opaque).takeRetainedValue()
            let report = message.pointee
            if report.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                delivery.delivered(KafkaDeliveryReport(
                    topic: String(cString: rd_kafka_topic_name(report.rkt)), partition: report.partition, offset: report.offset))
            } else {
                delivery.failed(KafkaError(report.err))
            }
        })
        let client = try RDKafkaClient(type: RD_KAFKA_PRODUCER, properties: configuration.librdkafkaProperties, callbacks: callbacks)
        self.client = client
        self.pollThread = PollThread(name: "kafka-producer-poll") { _ in
            rd_kafka_poll(client.handle, 100)
        }
    }

    deinit {
        pollThread.requestStop()
        pollThread.join()
        client.destroy()  // fails what is still queued; shutdown() flushes first
    }

    /// Sends one record and waits for the broker's acknowledgement.
    ///
    /// Throws a `KafkaError`: retriable ones (broker unreachable, timed out) mean the record was not
    /// delivered and may be sent again. Cancelling the caller does not recall a record already handed to
    /// librdkafka; the call still waits for its outcome.
    @discardableResult
    public func send(_ record: KafkaOutgoingRecord) async throws -> KafkaDeliveryReport {
        let clock = ContinuousClock()
        let giveUpAt = clock.now + deliveryTimeout
        while true {
            let result: Result<KafkaDeliveryReport, any Error>? = await withCheckedContinuation { outer in
                let context = Unmanaged.passRetained(DeliveryContinuation(outer))
                let err = enqueue(record, opaque: context.toOpaque())
                if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    // Not enqueued: no delivery report will come, so release and answer here.
                    let delivery = context.takeRetainedValue()
                    if err == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                        delivery.queueFull()
                    } else {
                        delivery.failed(KafkaError(err))
                    }
                }
            }
            switch result {
            case .some(let outcome): return try outcome.get()
            case .none:
                // The local queue is full: wait for deliveries to drain it, until the delivery timeout.
                guard clock.now < giveUpAt else { throw KafkaError(RD_KAFKA_RESP_ERR__QUEUE_FULL) }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    /// Fetches the metadata of `topics` (partitions and leaders), so the first record sent to each is not
    /// held up by a metadata request (~0.5 s). A service calls it before it reports ready.
    /// - Throws: A `KafkaError` when a topic does not exist or the cluster does not answer within `timeout`.
    public func prepare(topics: [String], timeout: Duration = .seconds(10)) async throws {
        let client = self.client
        let timeoutMs = Int32(clamping: timeout.milliseconds)
        try await runBlocking {
            for topic in topics { _ = try client.partitionCount(of: topic, timeoutMs: timeoutMs) }
        }
    }

    /// Waits until every buffered record is delivered or failed, then stops the poll thread.
    /// Records still undelivered after `timeout` are failed with a timeout by librdkafka on destroy.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        guard !isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pollThread.requestStop()
        await pollThread.joinAsync()
        // The poll thread has exited; rd_kafka_flush serves the remaining delivery reports itself.
        let client = self.client
        let err = try? await runBlocking { rd_kafka_flush(client.handle, Int32(clamping: timeout.milliseconds)) }
        if let err, err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("producer flush incomplete", metadata: ["error": "\(KafkaError(err))"])
        }
    }

    /// The fatal error of the underlying client, if any: the producer must then be recreated.
    public var fatalError: KafkaError? { client.fatalError() }

    private func enqueue(_ record: KafkaOutgoingRecord, opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        let headers: OpaquePointer? = record.headers.isEmpty ? nil : rd_kafka_headers_new(record.headers.count)
        for header in record.headers {
            if let value = header.value {
                value.withUnsafeBytes { bytes in
                    _ = rd_kafka_header_add(headers, header.name, -1, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), bytes.count)
                }
            } else {
                rd_kafka_header_add(headers, header.name, -1, nil, 0)
            }
        }
        let err = withOptionalBytes(record.key) { key, keyLength in
            withOptionalBytes(record.value) { value, valueLength in
                rag_kafka_produce(client.handle, record.topic, record.partition ?? RAG_KAFKA_PARTITION_UA,
                                  key, keyLength, value, valueLength, headers, opaque)
            }
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR, let headers {
            rd_kafka_headers_destroy(headers)  // ownership passes to librdkafka only on success
        }
        return err
    }
}

/// One record's waiting `send`, passed through librdkafka as the message opaque.
/// Exactly one of its methods is called, exactly once.
private final class DeliveryContinuation: Sendable {
    private let continuation: CheckedContinuation<Result<KafkaDeliveryReport, any Error>?, Never>

    init(_ continuation: CheckedContinuation<Result<KafkaDeliveryReport, any Error>?, Never>) {
        self.continuation = continuation
    }

    func delivered(_ report: KafkaDeliveryReport) { continuation.resume(returning: .success(report)) }
    func failed(_ error: KafkaError) { continuation.resume(returning: .failure(error)) }
    /// librdkafka's local queue is full: the caller waits and enqueues again.
    func queueFull() { continuation.resume(returning: nil) }
}

/// Calls `body` with a pointer and length for the bytes, or (nil, 0) for a null key/value.
func withOptionalBytes<T>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> T) -> T {
    guard let bytes else { return body(nil, 0) }
    return bytes.withUnsafeBytes { buffer in
        body(buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), buffer.count)
    }
}
