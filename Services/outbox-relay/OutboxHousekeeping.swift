import Logging
import ServiceLifecycle

/// Measures the outbox (`rag_outbox_backlog`, `rag_outbox_oldest_age_seconds`) every `metricsInterval` and
/// deletes rows published longer than `retention` ago every `cleanupInterval`, in statements of at most
/// `cleanupBatchSize` rows (so no statement holds many row locks or runs long).
///
/// Run by `OutboxRelayService` once the tables exist, beside publishing and independent of it: it measures
/// while the broker is down, and a failure here (Postgres away) is logged and tried again at the next tick;
/// the gauges then keep their last values. Several relays may all clean up: each skips rows another one is
/// deleting. Returns at graceful shutdown or cancellation.
struct OutboxHousekeeping: Sendable {
    let store: OutboxStore
    let metricsInterval: Duration
    let retention: Duration
    let cleanupInterval: Duration
    let cleanupBatchSize: Int
    let metrics: OutboxMetrics
    let logger: Logger

    func run() async {
        let clock = ContinuousClock()
        var nextCleanup = clock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let backlog = try await store.backlog()
                metrics.measured(backlog: backlog.rows, oldestAgeSeconds: backlog.oldestAgeSeconds)
            } catch {
                logger.warning("could not measure the outbox backlog", metadata: ["error": "\(error)"])
            }
            if clock.now >= nextCleanup {
                await deleteExpiredRows()
                nextCleanup = clock.now + cleanupInterval
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: metricsInterval) }
        }
    }

    private func deleteExpiredRows() async {
        var total = 0
        do {
            while !Task.isShuttingDownGracefully {
                let deleted = try await store.deletePublished(olderThan: retention, limit: cleanupBatchSize)
                total += deleted
                metrics.deleted(deleted)
                if deleted < cleanupBatchSize { break }
            }
        } catch {
            logger.warning("could not delete expired outbox rows", metadata: ["error": "\(error)", "deleted": "\(total)"])
        }
        if total > 0 {
            logger.info("deleted published outbox rows past retention", metadata: ["rows": "\(total)", "retention": "\(retention)"])
        }
    }
}
