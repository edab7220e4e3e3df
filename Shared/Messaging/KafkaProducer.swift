import CRdKafka
public import Logging
public import ServiceLifecycle
import Synchronization

/// Produces records and reports each one's delivery.
///
/// `send` returns once the broker has acknowledged the record (acks=all) or librdkafka gave up on it.
/// One dedicated thread serves librdkafka's delivery reports (`rd_kafka_poll`); nothing blocks Swift's
/// cooperative pool.
///
/// **Lifecycle.** The producer is a `Service`: list it in the worker's service group before the services
/// that send with it, so it stops after them. `run()` returns after graceful shutdown, once buffered records
/// are flushed (`shutdown()`); it throws the client's fatal error if librdkafka raises one (the idempotent
/// producer's sequence broken, fencing), so the worker stops and exits non-zero for its orchestrator to
/// replace it — a fatal producer can never deliver again. After shutdown every `send` fails at once with a
/// `_DESTROY` error; records still undelivered when the final flush times out fail with `_PURGE_QUEUE` /
/// `_PURGE_INFLIGHT`. No `send` ever waits for a producer that is gone.
public final class KafkaProducer: Service, Sendable {
    private let client: RDKafkaClient
    private let logger: Logger
    private let deliveryTimeout: Duration
    private let pollThread: PollThread
    private let lifecycle: LifecycleBox

    /// The lifecycle state behind a lock, in a class so that librdkafka's error callback can share it.
    private final class LifecycleBox: Sendable {
        let state = Mutex(Lifecycle())
        /// Set right after the handle is created; the error callback reads the fatal error through it.
        let client = Mutex<RDKafkaClient?>(nil)
    }

    private struct Lifecycle {
        /// False from the start of `shutdown()`: `send` then refuses at once.
        var accepting = true
        var fatalError: KafkaError?
        var stopRequested = false
        /// `run()` waiting for a fatal error or a stop.
        var waiter: CheckedContinuation<KafkaError?, Never>?

        mutating func takeWaiter() -> CheckedContinuation<KafkaError?, Never>? {
            defer { waiter = nil }
            return waiter
        }
    }

    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws {
        self.logger = logger
        self.deliveryTimeout = configuration.deliveryTimeout
        let lifecycle = LifecycleBox()
        self.lifecycle = lifecycle
        let callbacks = RDKafkaCallbacks(logger: logger, error: { err in
            guard err == RD_KAFKA_RESP_ERR__FATAL else { return }
            let fatal = lifecycle.client.withLock { $0?.fatalError() } ?? KafkaError(err, isFatal: true)
            logger.critical("fatal producer error: this producer can never deliver again", metadata: ["error": "\(fatal)"])
            let waiter = lifecycle.state.withLock { state in
                state.fatalError = state.fatalError ?? fatal
                return state.takeWaiter()
            }
            waiter?.resume(returning: fatal)
        }, deliveryReport: { message in
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
        lifecycle.client.withLock { $0 = client }
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

    /// Serves until graceful shutdown, then flushes (`shutdown()`); throws the fatal error if the client
    /// raises one (the worker then stops and exits non-zero).
    public func run() async throws {
        let fatal: KafkaError? = await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (waiter: CheckedContinuation<KafkaError?, Never>) in
                    let now: KafkaError?? = lifecycle.state.withLock { state in
                        if let fatal = state.fatalError { return .some(fatal) }
                        if state.stopRequested { return .some(nil) }
                        state.waiter = waiter
                        return nil
                    }
                    if let now { waiter.resume(returning: now) }
                }
            } onCancel: {
                requestStop()
            }
        } onGracefulShutdown: {
            self.requestStop()
        }
        if let fatal {
            await shutdown(timeout: .zero)
            throw fatal
        }
        await shutdown()
    }

    private func requestStop() {
        lifecycle.state.withLock { state in
            state.stopRequested = true
            return state.takeWaiter()
        }?.resume(returning: nil)
    }

    /// Sends one record and waits for the broker's acknowledgement.
    ///
    /// Throws a `KafkaError`: retriable ones (broker unreachable, timed out) mean the record was not
    /// delivered and may be sent again; `_DESTROY` means the producer is shut down, and a fatal error
    /// that it never will deliver. Cancelling the caller does not recall a record already handed to
    /// librdkafka; the call still waits for its outcome.
    @discardableResult
    public func send(_ record: KafkaOutgoingRecord) async throws -> KafkaDeliveryReport {
        let clock = ContinuousClock()
        let giveUpAt = clock.now + deliveryTimeout
        while true {
            let result: Result<KafkaDeliveryReport, any Error>? = await withCheckedContinuation { outer in
                let context = Unmanaged.passRetained(DeliveryContinuation(outer))
                // Enqueued under the lifecycle lock: once `shutdown()` stops accepting, nothing slips in
                // behind its flush.
                let err = lifecycle.state.withLock { state in
                    state.accepting ? enqueue(record, opaque: context.toOpaque()) : RD_KAFKA_RESP_ERR__DESTROY
                }
                if err == RD_KAFKA_RESP_ERR__DESTROY {
                    context.takeRetainedValue().failed(.shutdown("the producer is shut down; the record was not sent"))
                } else if err != RD_KAFKA_RESP_ERR_NO_ERROR {
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

    /// Stops accepting records, waits up to `timeout` until every buffered record is delivered or failed,
    /// then fails what is left (`_PURGE_QUEUE` / `_PURGE_INFLIGHT`) so that no `send` waits any longer,
    /// and stops the poll thread. Idempotent; `run()` calls it on graceful shutdown.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        let first = lifecycle.state.withLock { state in
            defer { state.accepting = false }
            return state.accepting
        }
        guard first else { return }
        requestStop()
        pollThread.requestStop()
        await pollThread.joinAsync()
        // The poll thread has exited; rd_kafka_flush and rd_kafka_poll serve the remaining delivery reports.
        let client = self.client
        let logger = self.logger
        _ = try? await runBlocking {
            let err = rd_kafka_flush(client.handle, Int32(clamping: timeout.milliseconds))
            guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
            let pending = rd_kafka_outq_len(client.handle)
            logger.warning("producer flush incomplete; failing the records still pending",
                           metadata: ["error": "\(KafkaError(err))", "pending": "\(pending)"])
            rd_kafka_purge(client.handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
            // Purged records get their (failed) delivery reports on the next polls.
            let giveUpAt = ContinuousClock.now + .seconds(2)
            while rd_kafka_outq_len(client.handle) > 0 && ContinuousClock.now < giveUpAt {
                rd_kafka_poll(client.handle, 10)
            }
        }
    }

    /// The fatal error of the underlying client, if any: the producer must then be recreated.
    public var fatalError: KafkaError? { client.fatalError() }

    /// Raises a fatal error in the client as librdkafka would when idempotence breaks (test support).
    @_spi(Testing) public func simulateFatalError() {
        _ = rd_kafka_test_fatal_error(client.handle, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "simulated by a test")
    }

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
