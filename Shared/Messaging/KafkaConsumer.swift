import CRdKafka
import Foundation
public import Logging
import Metrics
import Synchronization

/// A consumer-group member that hands records to an async handler with a bounded number in flight and
/// commits, per partition, only the contiguous low-watermark of finished records (SPEC §7).
///
/// Flow: a dedicated poll thread calls `rd_kafka_consumer_poll` (it never blocks on a handler), registers
/// each record in `ConsumerState` and passes it to a task group that runs the handler — one record at a time
/// per lane of `configuration.ordering` (per key by default), so records of one entity take effect in
/// offset order while different entities run concurrently. Finished child tasks are discarded at once
/// (memory stays flat however many records pass). At most `maxInFlight` records are in flight; records
/// fetched beyond that wait in `ConsumerState.waiting` and start the moment a slot frees, so a wave of slow
/// calls ending together refills every slot at once rather than after a fetch. A partition whose in-flight
/// bound is reached is paused and resumed when half has drained; all partitions pause when as many records
/// again as the total bound wait, and resume when half of those have started. The poll loop keeps polling
/// meanwhile, so `max.poll.interval.ms` is never exceeded by slow handlers. A handler that throws is retried with exponential backoff until it succeeds or its partition
/// is revoked: a record is never skipped, so a failing dependency (Postgres down) stalls commits instead
/// of losing data. Handlers decide themselves when a record is a poison pill (send it to the DLQ, return).
///
/// On revoke, the revoked partitions' in-flight records get `revokeTimeout` to finish; what finished is
/// committed synchronously, the rest is left for redelivery. Graceful shutdown does the same for every
/// partition, then leaves the group. A consumer runs once.
public final class KafkaConsumer: Sendable {
    public typealias Handler = @Sendable (KafkaRecord) async throws -> Void

    private let configuration: KafkaConsumerConfiguration
    private let logger: Logger
    private let state = Mutex(ConsumerState())
    private let lanes = Mutex(OrderingLanes<Delivery>())
    private let queueForWakeUps = Mutex(QueueHandle(pointer: nil))
    private let hasRun = Atomic<Bool>(false)
    private let offsetRewindsLogged = Atomic<Int>(0)
    private let limits: ConsumerState.Limits
    private let metrics: ConsumerMetrics

    /// Validates the configuration; the group is joined in `run`.
    public init(configuration: KafkaConsumerConfiguration, logger: Logger) throws {
        guard !configuration.topics.isEmpty else { throw KafkaError.configuration("a consumer needs at least one topic") }
        guard configuration.maxInFlight > 0, configuration.maxInFlightPerPartition > 0 else {
            throw KafkaError.configuration("in-flight bounds must be positive")
        }
        rd_kafka_conf_destroy(try RDKafkaClient.makeConfiguration(configuration.librdkafkaProperties))
        self.configuration = configuration
        self.logger = logger
        self.limits = .init(total: configuration.maxInFlight, perPartition: configuration.maxInFlightPerPartition)
        self.metrics = ConsumerMetrics(group: configuration.groupID)
    }

    /// Joins the group and processes records with `handler` until `triggerGracefulShutdown()` is called
    /// or the calling task is cancelled (then in-flight work is abandoned at once, uncommitted, and the
    /// group is left). Throws if librdkafka reports a fatal error.
    public func run(_ handler: @escaping Handler) async throws {
        guard !hasRun.exchange(true, ordering: .acquiringAndReleasing) else {
            throw KafkaError.configuration("a KafkaConsumer runs only once")
        }
        let callbacks = RDKafkaCallbacks(
            logger: logger,
            rebalance: { [self] rk, err, list in rebalance(rk, err, list) },
            offsetCommit: { [self] err, list in commitCompleted(err, list) }
        )
        let client = try RDKafkaClient(type: RD_KAFKA_CONSUMER, properties: configuration.librdkafkaProperties, callbacks: callbacks)
        rd_kafka_poll_set_consumer(client.handle)
        queueForWakeUps.withLock { $0.pointer = rd_kafka_queue_get_consumer(client.handle) }
        let subscribeError = withPartitionList(configuration.topics.map { (KafkaTopicPartition(topic: $0, partition: -1), 0) }) {
            rd_kafka_subscribe(client.handle, $0)
        }
        guard subscribeError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            closeHandle(client, flags: 0)
            throw KafkaError(subscribeError)
        }
        logger.info("consumer subscribed", metadata: ["group": "\(configuration.groupID)", "topics": "\(configuration.topics)"])

        let (deliveries, continuation) = AsyncStream.makeStream(of: Delivery.self)
        let clock = ContinuousClock()
        let nextCommit = Mutex(clock.now + configuration.commitInterval)
        let pollThread = PollThread(name: "kafka-consumer-poll") { [self] thread in
            if state.withLock({ $0.stopRequested || $0.crashRequested }) {
                stop(client, continuation)
                thread.requestStop()
                return
            }
            handOut(state.withLock { $0.startWaiting(limits: limits) }, continuation)
            applyPauseResume(client)
            if clock.now >= nextCommit.withLock({ $0 }) {
                commit(client, state.withLock { $0.takeCommittableOffsets() }, synchronously: false)
                reportLag(client)
                nextCommit.withLock { $0 = clock.now + configuration.commitInterval }
            }
            poll(client, continuation)
        }

        let ordering = configuration.ordering
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                for await delivery in deliveries {
                    guard let lane = ordering.lane(of: delivery.record) else {
                        group.addTask { await self.process(delivery, handler) }
                        continue
                    }
                    if lanes.withLock({ $0.admit(delivery, to: lane) }) {
                        group.addTask { await self.processLane(lane, first: delivery, handler) }
                    }
                }
                // The poll loop has closed the consumer; whatever still runs was abandoned (never committed).
                group.cancelAll()
            }
        } onCancel: {
            state.withLock { $0.stopRequested = true; $0.abandonInFlight = true }
            wakePollLoop()
        }
        await pollThread.joinAsync()
        if let fatal = state.withLock({ $0.fatalError }) { throw fatal }
    }

    /// Stops fetching, lets in-flight records finish within `shutdownTimeout`, commits, leaves the group;
    /// `run` then returns. Safe to call from any thread, more than once.
    public func triggerGracefulShutdown() {
        state.withLock { $0.stopRequested = true }
        wakePollLoop()
    }

    // MARK: - Poll thread

    private func poll(_ client: RDKafkaClient, _ continuation: AsyncStream<Delivery>.Continuation) {
        guard let message = rd_kafka_consumer_poll(client.handle, 100) else { return }
        defer { rd_kafka_message_destroy(message) }
        let err = message.pointee.err
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            if err == RD_KAFKA_RESP_ERR__FATAL {
                let fatal = client.fatalError() ?? KafkaError(err)
                logger.error("fatal consumer error", metadata: ["error": "\(fatal)"])
                state.withLock { $0.fatalError = fatal; $0.stopRequested = true; $0.abandonInFlight = true }
            } else {
                logger.warning("consumer error", metadata: ["error": "\(KafkaError(err))"])
            }
            return
        }
        let record = message.copyRecord()
        metrics.consumed(topic: record.topic)
        handOut(state.withLock { state in
            state.receive(record)
            return state.startWaiting(limits: limits)
        }, continuation)
        applyPauseResume(client)
    }

    /// Passes records registered as started to the handlers.
    private func handOut(_ started: [(KafkaRecord, generation: UInt64)], _ continuation: AsyncStream<Delivery>.Continuation) {
        guard !started.isEmpty else { return }
        let rewinds = state.withLock { $0.offsetRewinds }
        if rewinds != offsetRewindsLogged.exchange(rewinds, ordering: .relaxed), let record = started.last?.0 {
            logger.warning("offsets went backwards within an assignment (log truncated or position reset); tracking starts afresh",
                           metadata: ["topic": "\(record.topic)", "partition": "\(record.partition)", "offset": "\(record.offset)"])
        }
        let now = ContinuousClock.now
        for (record, generation) in started {
            continuation.yield(Delivery(record: record, generation: generation, receivedAt: now))
        }
    }

    private func applyPauseResume(_ client: RDKafkaClient) {
        let (pause, resume) = state.withLock { $0.pauseResumeChanges(limits: limits) }
        if !pause.isEmpty {
            _ = withPartitionList(pause.map { ($0, 0) }) { rd_kafka_pause_partitions(client.handle, $0) }
            logger.debug("paused partitions", metadata: ["partitions": "\(pause)"])
        }
        if !resume.isEmpty {
            _ = withPartitionList(resume.map { ($0, 0) }) { rd_kafka_resume_partitions(client.handle, $0) }
            logger.debug("resumed partitions", metadata: ["partitions": "\(resume)"])
        }
        if !pause.isEmpty || !resume.isEmpty {
            metrics.pausedPartitions(state.withLock { $0.partitions.values.filter(\.paused).count })
        }
    }

    /// Commits `offsets` (next offsets to consume). Async commits report back through `commitCompleted`.
    private func commit(_ client: RDKafkaClient, _ offsets: [(KafkaTopicPartition, Int64)], synchronously: Bool) {
        guard !offsets.isEmpty else { return }
        let started = ContinuousClock.now
        withPartitionList(offsets) { list in
            let err = rd_kafka_commit(client.handle, list, synchronously ? 0 : 1)
            guard synchronously else { return }
            metrics.commitDuration(ContinuousClock.now - started)
            let results = (0..<Int(list.pointee.cnt)).map { list.pointee.elems[$0].err }
            state.withLock { state in
                for (index, (topicPartition, offset)) in offsets.enumerated() {
                    state.commitCompleted(topicPartition, offset: offset,
                                          succeeded: err == RD_KAFKA_RESP_ERR_NO_ERROR && results[index] == RD_KAFKA_RESP_ERR_NO_ERROR)
                }
            }
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                logger.warning("synchronous commit failed", metadata: ["error": "\(KafkaError(err))"])
            }
        }
    }

    /// Consumer lag per owned partition: the high watermark of the last fetch minus the low-watermark of
    /// finished work (before a partition's first record, minus the fetch position). Local calls only.
    private func reportLag(_ client: RDKafkaClient) {
        for (topicPartition, done) in state.withLock({ $0.lowWatermarks() }) {
            var low: Int64 = 0
            var high: Int64 = 0
            guard rd_kafka_get_watermark_offsets(client.handle, topicPartition.topic, topicPartition.partition, &low, &high)
                    == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0,
                  let position = done ?? fetchPosition(client, topicPartition) else { continue }
            metrics.lag(topicPartition, max(0, high - position))
        }
    }

    private func fetchPosition(_ client: RDKafkaClient, _ topicPartition: KafkaTopicPartition) -> Int64? {
        withPartitionList([(topicPartition, 0)]) { list in
            guard rd_kafka_position(client.handle, list) == RD_KAFKA_RESP_ERR_NO_ERROR,
                  let offset = list.entries.first?.1, offset >= 0 else { return nil }
            return offset
        }
    }

    /// The asynchronous commit result, served on the poll thread.
    private func commitCompleted(_ err: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        guard let list else { return }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET {
            logger.warning("commit failed; will retry", metadata: ["error": "\(KafkaError(err))"])
        }
        let elements = (0..<Int(list.pointee.cnt)).map { list.pointee.elems[$0] }
        state.withLock { state in
            for element in elements {
                let topicPartition = KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)
                state.commitCompleted(topicPartition, offset: element.offset,
                                      succeeded: err == RD_KAFKA_RESP_ERR_NO_ERROR && element.err == RD_KAFKA_RESP_ERR_NO_ERROR)
            }
        }
    }

    /// Rebalance callback, called by librdkafka on the poll thread (inside poll or close).
    private func rebalance(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        let partitions = list.entries.map(\.0)
        metrics.rebalance()
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            state.withLock { state in
                state.rebalanceEvents += 1
                for topicPartition in partitions {
                    state.partitions[topicPartition] = .init(generation: state.nextGeneration)
                    state.nextGeneration += 1
                }
            }
            if cooperative {
                if let error = rd_kafka_incremental_assign(rk, list) {
                    logger.error("incremental assign failed", metadata: ["error": "\(String(cString: rd_kafka_error_string(error)))"])
                    rd_kafka_error_destroy(error)
                }
            } else {
                rd_kafka_assign(rk, list)
            }
            // A partition paused under an earlier assignment must fetch again.
            rd_kafka_resume_partitions(rk, list)
            logger.info("partitions assigned", metadata: ["partitions": "\(partitions)"])

        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(rk) != 0
            let stopping = state.withLock { state in
                state.rebalanceEvents += 1
                for topicPartition in partitions { state.partitions[topicPartition]?.revoking = true }
                return state.stopRequested
            }
            rd_kafka_pause_partitions(rk, list)
            if !lost {
                let deadline = ContinuousClock.now + (stopping ? .zero : configuration.revokeTimeout)
                while state.withLock({ $0.inFlight(of: partitions) }) > 0 && ContinuousClock.now < deadline {
                    Thread.sleep(forTimeInterval: 0.005)
                }
                let offsets = state.withLock { $0.takeCommittableOffsets(of: Set(partitions)) }
                if !offsets.isEmpty {
                    let commitError = withPartitionList(offsets) { rd_kafka_commit(rk, $0, 0) }
                    state.withLock { state in
                        for (topicPartition, offset) in offsets {
                            state.commitCompleted(topicPartition, offset: offset, succeeded: commitError == RD_KAFKA_RESP_ERR_NO_ERROR)
                        }
                    }
                }
            }
            let abandoned = state.withLock { state in
                let count = state.inFlight(of: partitions)
                state.remove(partitions)
                return count
            }
            partitions.forEach(metrics.forgetLag)
            if cooperative {
                if let error = rd_kafka_incremental_unassign(rk, list) { rd_kafka_error_destroy(error) }
            } else {
                rd_kafka_assign(rk, nil)
            }
            logger.info("partitions revoked", metadata: [
                "partitions": "\(partitions)", "lost": "\(lost)", "left_for_redelivery": "\(abandoned)",
            ])

        default:
            logger.error("rebalance error", metadata: ["error": "\(KafkaError(err))"])
            rd_kafka_assign(rk, nil)
        }
    }

    /// Graceful stop (or crash simulation), run once on the poll thread. Ends the delivery stream.
    private func stop(_ client: RDKafkaClient, _ continuation: AsyncStream<Delivery>.Continuation) {
        let (abandon, crash) = state.withLock { ($0.abandonInFlight, $0.crashRequested) }
        if crash {
            logger.warning("consumer crashing on request: no commit, no group leave")
            closeHandle(client, flags: RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE)
            continuation.finish()
            return
        }
        applyPauseResume(client)  // stopRequested pauses every partition: nothing new is fetched
        state.withLock { $0.waiting.removeAll() }  // never started: left for redelivery
        let deadline = ContinuousClock.now + (abandon ? .zero : configuration.shutdownTimeout)
        while state.withLock({ $0.totalInFlight }) > 0 && ContinuousClock.now < deadline {
            // Keep serving callbacks; a record fetched before the pause is dropped, never started.
            if let message = rd_kafka_consumer_poll(client.handle, 20) { rd_kafka_message_destroy(message) }
        }
        commit(client, state.withLock { $0.takeCommittableOffsets() }, synchronously: true)
        let abandoned = state.withLock { $0.totalInFlight }
        let closeError = rd_kafka_consumer_close(client.handle)  // revokes (committing nothing new) and leaves the group
        if closeError != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("consumer close reported an error", metadata: ["error": "\(KafkaError(closeError))"])
        }
        closeHandle(client, flags: 0)
        logger.info("consumer stopped", metadata: ["group": "\(configuration.groupID)", "left_for_redelivery": "\(abandoned)"])
        continuation.finish()
    }

    private func closeHandle(_ client: RDKafkaClient, flags: Int32) {
        queueForWakeUps.withLock { queue in
            if let pointer = queue.pointer { rd_kafka_queue_destroy(pointer) }
            queue.pointer = nil
        }
        state.withLock { $0.handleClosed = true }
        client.destroy(flags: flags)
    }

    /// Interrupts a blocking `rd_kafka_consumer_poll` so the loop reacts at once.
    private func wakePollLoop() {
        queueForWakeUps.withLock { queue in
            if let pointer = queue.pointer { rd_kafka_queue_yield(pointer) }
        }
    }

    // MARK: - Processing

    /// Runs a lane's records one after another until its queue is empty.
    private func processLane(_ lane: RecordLane, first: Delivery, _ handler: Handler) async {
        var next: Delivery? = first
        while let delivery = next {
            await process(delivery, handler)
            next = lanes.withLock { $0.next(in: lane) }
        }
    }

    private func process(_ delivery: Delivery, _ handler: Handler) async {
        let record = delivery.record
        // A record that waited in its lane while its partition was revoked (or the offsets were reset) is
        // left for redelivery; its successor in the lane may then run.
        guard state.withLock({ $0.isOwned(record.topicPartition, generation: delivery.generation) }) else { return }
        var backoff = configuration.retryBackoff
        var attempt = 1
        while true {
            do {
                try await handler(record)
                break
            } catch {
                metrics.failed(topic: record.topic)
                let current = state.withLock { $0.isCurrent(record.topicPartition, generation: delivery.generation) }
                guard !Task.isCancelled, current else { return }  // left for redelivery
                logger.warning("record handler failed; retrying", metadata: [
                    "topic": "\(record.topic)", "partition": "\(record.partition)", "offset": "\(record.offset)",
                    "attempt": "\(attempt)", "error": "\(error)",
                ])
                // Full jitter: anywhere between zero and the current backoff.
                try? await Task.sleep(for: backoff * Double.random(in: 0...1))
                backoff = min(backoff * 2, configuration.maxRetryBackoff)
                attempt += 1
            }
        }
        metrics.processed(topic: record.topic, duration: ContinuousClock.now - delivery.receivedAt)
        let wake = state.withLock {
            $0.finish(record.topicPartition, offset: record.offset, generation: delivery.generation, limits: limits)
        }
        if wake { wakePollLoop() }
    }

    private struct Delivery: Sendable {
        var record: KafkaRecord
        var generation: UInt64
        var receivedAt: ContinuousClock.Instant
    }

    /// `rd_kafka_queue_t *` of the consumer queue; only used under its lock, destroyed before the handle.
    private struct QueueHandle: @unchecked Sendable {
        var pointer: OpaquePointer?
    }
}

// MARK: - Test support

extension KafkaConsumer {
    /// Simulates a crash (like SIGKILL): the handle is destroyed without committing or leaving the group;
    /// in-flight work is abandoned. `run` then returns.
    @_spi(Testing) public func simulateCrash() {
        state.withLock { $0.crashRequested = true; $0.stopRequested = true; $0.abandonInFlight = true }
        wakePollLoop()
    }

    /// Offsets the broker confirmed as committed by this consumer.
    @_spi(Testing) public var confirmedCommits: [KafkaTopicPartition: Int64] { state.withLock { $0.confirmedCommits } }

    /// How many assign and revoke events this consumer has seen.
    @_spi(Testing) public var rebalanceEvents: Int { state.withLock { $0.rebalanceEvents } }

    /// How often a partition's offsets went backwards within an assignment.
    @_spi(Testing) public var offsetRewinds: Int { state.withLock { $0.offsetRewinds } }

    /// The partitions this consumer owns now.
    @_spi(Testing) public var assignment: Set<KafkaTopicPartition> { state.withLock { Set($0.partitions.keys) } }
}
