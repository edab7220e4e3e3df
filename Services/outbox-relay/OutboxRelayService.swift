import Logging
import Messaging
import Persistence
import ServiceLifecycle
import Tracing
import WorkerRuntime

/// The relay's flow (SPEC §6): outbox rows → their topics, at least once, in order per aggregate.
///
/// 1. Migrate (waiting for Postgres), start the housekeeping (backlog metrics, retention), then
///    `LISTEN outbox`: the insert trigger of migration 0001 notifies on every committed insert. A poll every
///    `pollInterval` covers notifications lost while the listener reconnects.
/// 2. Drain: publish batches until a batch comes back short. Each batch is one transaction: claim up to
///    `batchSize` rows (`OutboxStore.beginAndClaim`: the aggregates' locks, then the rows, oldest first), publish them,
///    mark as published the rows whose delivery was acknowledged, commit. `concurrentDrains` drains run at
///    once: a wake-up goes to an idle one, so a row committed while a batch waits for its acknowledgements is
///    claimed at once by another (the aggregates' locks keep them apart, as they keep several relays apart);
///    when all are busy it is remembered for the first that finishes.
/// 3. Publish: aggregates concurrently; within an aggregate one record at a time, in position order, each
///    sent only after the previous one was acknowledged (acks=all) and none after a failure. So a failed
///    record is never overtaken on its partition by a later row of its aggregate, whatever librdkafka does
///    with what it had in flight; the price is one round trip per row of one aggregate in a batch.
///
/// **Failure.** A record that is not delivered leaves its row, and the rest of its aggregate, unpublished;
/// the delivered rows of the batch are committed, the relay backs off and claims again (rows that cannot
/// be delivered at all — an unknown topic — slow their batches down but do not stop other aggregates). A batch whose transaction fails (Postgres
/// down or timed out) marks nothing: its delivered records are published again later. A relay killed
/// between publishing and committing loses its session, Postgres rolls the claim back and releases the
/// locks, and another relay republishes that one batch. Published therefore means delivered; duplicates are
/// bounded by one batch per failure and carry the same `outbox-id` header.
///
/// **Shutdown.** Graceful shutdown stops the wake-ups; the batch in progress finishes and commits (the
/// producer is listed before this service, so it stops after it). Cancellation at the shutdown deadline rolls
/// the batch back instead.
struct OutboxRelayService: Service {
    let migrator: Migrator
    let store: OutboxStore
    let listener: PostgresListener
    let producer: KafkaProducer
    let housekeeping: OutboxHousekeeping
    let batchSize: Int
    let pollInterval: Duration
    let metrics: OutboxMetrics
    let logger: Logger

    /// Claims look for aggregates among this many oldest rows per row wanted; other relays' aggregates there
    /// are skipped.
    static let scanWindowFactor = 4
    /// Batches in progress at once (each holds a pooled connection for its transaction).
    static let concurrentDrains = 2
    static let firstRetryDelay: Duration = .milliseconds(200)
    static let maxRetryDelay: Duration = .seconds(5)

    func run() async throws {
        guard try await finishedBeforeGracefulShutdown({ try await migrator.migrateWhenReachable() }) else { return }
        listener.start()
        defer { listener.stop() }
        let dispatcher = DrainDispatcher()
        dispatcher.wake()  // rows left from before the start
        await withDiscardingTaskGroup { group in
            group.addTask { await housekeeping.run() }
            group.addTask {
                for await _ in listener.notifications { dispatcher.wake() }
            }
            group.addTask {
                while (try? await Task.sleep(for: pollInterval)) != nil { dispatcher.wake() }
            }
            await withTaskCancellationHandler {
                await withGracefulShutdownHandler {
                    await withDiscardingTaskGroup { drains in
                        for _ in 0..<Self.concurrentDrains {
                            drains.addTask {
                                while await dispatcher.next(), !Task.isShuttingDownGracefully { await drain() }
                            }
                        }
                    }
                } onGracefulShutdown: {
                    dispatcher.finish()
                }
            } onCancel: {
                dispatcher.finish()
            }
            group.cancelAll()
        }
    }

    /// Publishes batches until one comes back short; after a failure, backs off and claims again.
    private func drain() async {
        var retryDelay = Self.firstRetryDelay
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let batch = try await publishBatch()
                if batch.failed == 0 {
                    guard batch.claimed == batchSize else { return }
                    retryDelay = Self.firstRetryDelay
                    continue
                }
                logger.warning("outbox records not delivered; retrying", metadata: [
                    "claimed": "\(batch.claimed)", "failed": "\(batch.failed)", "error": "\(batch.firstError ?? "")",
                    "retry_in": "\(retryDelay)",
                ])
            } catch {
                if Task.isCancelled { return }  // the shutdown deadline: the batch was rolled back
                metrics.batchFailed()
                logger.warning("outbox batch failed; nothing of it was marked published", metadata: [
                    "error": "\(error)", "retry_in": "\(retryDelay)",
                ])
            }
            let delay = retryDelay
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
            retryDelay = min(retryDelay * 2, Self.maxRetryDelay)
        }
    }

    private struct BatchOutcome {
        var claimed = 0
        var failed = 0
        var firstError: String?
    }

    /// One transaction in two round trips: BEGIN and claim; publish; mark the delivered rows and COMMIT. When
    /// anything throws (or the task is cancelled) before the commit, the pool rolls the transaction back as
    /// the connection comes back: nothing of the batch is marked.
    private func publishBatch() async throws -> BatchOutcome {
        let started = ContinuousClock.now
        let outcome = try await store.pool.withConnection { connection in
            let rows = try await store.beginAndClaim(limit: batchSize, scanWindow: batchSize * Self.scanWindowFactor, on: connection)
            let deliveries = rows.isEmpty ? (delivered: [], firstError: nil) : await publish(rows)
            try await store.markPublishedAndCommit(deliveries.delivered, on: connection)
            return BatchOutcome(claimed: rows.count, failed: rows.count - deliveries.delivered.count, firstError: deliveries.firstError)
        }
        if outcome.claimed > 0 {
            metrics.batchCompleted(in: ContinuousClock.now - started)
            logger.debug("outbox batch committed", metadata: ["claimed": "\(outcome.claimed)", "failed": "\(outcome.failed)"])
        }
        return outcome
    }

    /// Sends the rows: aggregates concurrently, each aggregate's rows in order, one acknowledged record after
    /// another, stopping at its first failure. Returns the ids of the delivered rows.
    private func publish(_ rows: [OutboxRow]) async -> (delivered: [String], firstError: String?) {
        var byAggregate: [OutboxRow.Aggregate: [OutboxRow]] = [:]
        for row in rows { byAggregate[row.aggregate, default: []].append(row) }  // rows come in position order
        return await withTaskGroup(of: (delivered: [String], error: String?).self) { group in
            for aggregateRows in byAggregate.values {
                group.addTask {
                    var delivered: [String] = []
                    for row in aggregateRows {
                        do {
                            // A span per publish, a child of the span that wrote the row (its traceparent); the
                            // record keeps the row's headers as stored, so a republished row is identical.
                            let record = row.record
                            try await withSpan("outbox publish", context: record.headers.traceContext, ofKind: .producer) { span in
                                span.attributes["messaging.destination.name"] = row.topic
                                span.attributes["rag.outbox_id"] = row.id
                                try await producer.send(record)
                            }
                        } catch {
                            metrics.deliveryFailed(topic: row.topic)
                            return (delivered, "\(row.topic): \(error)")
                        }
                        metrics.published(topic: row.topic)
                        delivered.append(row.id)
                    }
                    return (delivered, nil)
                }
            }
            var delivered: [String] = []
            var firstError: String?
            for await outcome in group {
                delivered += outcome.delivered
                firstError = firstError ?? outcome.error
            }
            return (delivered, firstError)
        }
    }
}
