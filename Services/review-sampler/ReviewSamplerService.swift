import Foundation
import Logging
import Messaging
import Metrics
import Schemas
import ServiceLifecycle
import WorkerRuntime

/// The review-sampler's flow (SPEC §2, §3, §7): rag.results → check → already sampled? → sample or skip
/// (`SamplingPolicy`) → a ReviewItem keyed by query_id to the compacted rag.human-review → commit.
///
/// The handler returns — and the consumer may commit the offset — only once the item (or the dead letter of
/// a bad record) is acknowledged by the broker; if that fails, it throws and the consumer retries the record,
/// so no offset moves past a result that should have been sampled. Everything in an item comes from the
/// record (its value, headers and timestamp): a replay produces byte-identical items.
struct ReviewSamplerService: Service {
    let consumer: KafkaConsumer
    let producer: KafkaProducer
    let deadLetters: KafkaDeadLetterWriter
    let schemas: SchemaRegistry
    let policy: SamplingPolicy
    let recent: RecentQueryIDs
    let topics: RAGTopics
    /// `/readyz`'s `kafka` check: ready once the topics it writes to are known to the cluster.
    let ready: ReadinessFlag
    let logger: Logger

    func run() async throws {
        // Consume only once the output topics exist and have leaders; until then /readyz says why.
        do {
            try await cancelWhenGracefulShutdown { try await waitForOutputTopics() }
        } catch is CancellationError where Task.isShuttingDownGracefully {
            return
        }
        ready.markReady()
        try await withGracefulShutdownHandler {
            try await consumer.run { record in try await handle(record) }
        } onGracefulShutdown: {
            consumer.triggerGracefulShutdown()
        }
    }

    func handle(_ record: KafkaRecord) async throws {
        let candidate: ResultToReview
        do {
            candidate = try ResultToReview(record: record, schemas: schemas)
        } catch {
            return try await deadLetter(record, reason: error.reason, message: error.message)
        }
        let queryID = candidate.result.queryID
        guard !recent.contains(queryID) else {
            return Self.results("skipped", "duplicate").increment()
        }
        guard let reason = policy.reason(toReview: candidate.result, tier: candidate.tier, flagged: candidate.flag != nil) else {
            return Self.results("skipped", "not_selected").increment()
        }
        let item = ReviewItem(queryID: queryID, reason: reason.rawValue, result: candidate.result,
                              contextRef: "\(topics.context):\(queryID)", sampledAt: candidate.recordTime)
        // JSONEncoder's member order changes from process to process; sorted keys make a replay's item byte-identical.
        let json = try JSONValue.parse(item.encoded())
        let violations = schemas.validate(json, against: .reviewItem)
        guard violations.isEmpty else {
            return try await deadLetter(record, reason: "invalid_review_item",
                                        message: violations.map { "\($0.pointer): \($0.message)" }.joined(separator: "; "))
        }
        try await producer.send(KafkaOutgoingRecord(
            topic: topics.humanReview, key: queryID, value: json.serialized(sortingKeys: true),
            headers: candidate.forwardedHeaders + [KafkaHeader("schema-version", SchemaName.reviewItem.version)]))
        recent.insert(queryID)
        Self.results("sampled", reason.rawValue).increment()
    }

    /// Fetches the metadata of rag.human-review and rag.dlq, retrying every second until the cluster answers.
    private func waitForOutputTopics() async throws {
        var attempt = 0
        while true {
            do {
                return try await producer.prepare(topics: [topics.humanReview, topics.deadLetters], timeout: .seconds(5))
            } catch {
                try Task.checkCancellation()
                ready.markNotReady(reason: "no metadata for \(topics.humanReview) and \(topics.deadLetters): \(error)")
                if attempt % 30 == 0 {
                    logger.warning("the output topics are not available yet", metadata: ["error": "\(error)"])
                }
                attempt += 1
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func deadLetter(_ record: KafkaRecord, reason: String, message: String) async throws {
        logger.warning("result sent to the dead-letter topic", metadata: [
            "reason": "\(reason)", "error": "\(message)", "partition": "\(record.partition)", "offset": "\(record.offset)",
        ])
        try await deadLetters.send(record, .init(reason: reason, error: message))
        Counter(label: "rag_dlq_records_total", dimensions: [("stage", deadLetters.stage), ("reason", reason)]).increment()
        Self.results("dead_lettered", reason).increment()
    }

    /// `review_sampler_results_total{outcome=sampled|skipped|dead_lettered, reason}`.
    private static func results(_ outcome: String, _ reason: String) -> Counter {
        Counter(label: "review_sampler_results_total", dimensions: [("outcome", outcome), ("reason", reason)])
    }
}
