import Metrics

/// The relay's SPEC §9 metrics (outbox backlog and age, publishing), exported by the worker's `/metrics`.
///
/// Each relay measures the whole table, so with several relays every one exports the same backlog and age:
/// aggregate them with `max`, not `sum`.
struct OutboxMetrics: Sendable {
    private let backlog = Gauge(label: "rag_outbox_backlog")
    private let oldestAge = Gauge(label: "rag_outbox_oldest_age_seconds")
    private let batchDuration = Metrics.Timer(label: "rag_outbox_publish_batch_duration_seconds", preferredDisplayUnit: .seconds)
    private let deleted = Counter(label: "rag_outbox_deleted_total")

    /// Unpublished rows, and the age of the oldest in seconds.
    func measured(backlog rows: Int, oldestAgeSeconds: Double) {
        backlog.record(rows)
        oldestAge.record(oldestAgeSeconds)
    }

    /// One record delivered (acknowledged by the broker) to `topic`; its row is marked in the batch's commit.
    func published(topic: String) {
        Counter(label: "rag_outbox_published_total", dimensions: [("topic", topic)]).increment()
    }

    /// One record the producer could not deliver to `topic`; its row and the later rows of its aggregate stay
    /// unpublished and are retried.
    func deliveryFailed(topic: String) {
        Counter(label: "rag_outbox_failures_total", dimensions: [("reason", "delivery"), ("topic", topic)]).increment()
    }

    /// A batch whose transaction failed (Postgres unreachable, timed out, …): nothing of it was marked.
    func batchFailed() {
        Counter(label: "rag_outbox_failures_total", dimensions: [("reason", "database"), ("topic", "")]).increment()
    }

    /// From the claim to the commit of one batch that claimed rows.
    func batchCompleted(in duration: Duration) {
        let (seconds, attoseconds) = duration.components
        batchDuration.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Published rows deleted by retention.
    func deleted(_ rows: Int) {
        deleted.increment(by: rows)
    }
}
