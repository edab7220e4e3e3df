import Logging
import Messaging
import Metrics
import ModelClients
import Persistence
import Schemas
import ServiceLifecycle
import WorkerRuntime

/// The embedder's flow (SPEC §2, §6, §7): rag.chunks → check → batch → embed → upsert rows and outbox
/// events in one transaction → commit.
///
/// Each record's handler parses and checks it (a poison pill goes to rag.dlq at once), then submits it to
/// the batcher and waits for its batch. The handler returns — and the consumer may commit the offset — only
/// once the row is durable, or once the dead letter is acknowledged. If the batch cannot be written
/// (Postgres down), the handler throws and the consumer retries it with backoff: no offset moves meanwhile.
struct EmbedderService: Service {
    let migrator: Migrator
    let consumer: KafkaConsumer
    let batcher: EmbeddingBatcher<ChunkToIndex, ChunkIndexer.Outcome>
    let deadLetters: KafkaDeadLetterWriter
    let schemas: SchemaRegistry
    let model: String
    let logger: Logger

    func run() async throws {
        // Consume only once the tables exist; until Postgres answers, /readyz says so and nothing is read.
        guard try await finishedBeforeGracefulShutdown({ try await migrator.migrateWhenReachable() }) else { return }
        try await withGracefulShutdownHandler {
            try await consumer.run { record in try await handle(record) }
        } onGracefulShutdown: {
            consumer.triggerGracefulShutdown()
        }
    }

    func handle(_ record: KafkaRecord) async throws {
        let chunk: ChunkToIndex
        do {
            chunk = try ChunkToIndex(record: record, schemas: schemas, model: model)
        } catch {
            try await deadLetter(record, reason: error.reason, message: error.message, attempts: 0)
            return
        }
        switch try await batcher.submit(chunk) {
        case .indexed, .unchanged:
            return
        case .failed(let error):
            try await deadLetter(record, reason: error.kind == .rejected ? "embedding_rejected" : "embedding_failed",
                                 message: error.description, attempts: error.attempts)
        case .rejected(let error):
            try await deadLetter(record, reason: "database_rejected", message: error.description, attempts: 1)
        }
    }

    private func deadLetter(_ record: KafkaRecord, reason: String, message: String, attempts: Int) async throws {
        logger.warning("chunk sent to the dead-letter topic", metadata: [
            "reason": "\(reason)", "error": "\(message)", "partition": "\(record.partition)", "offset": "\(record.offset)",
        ])
        try await deadLetters.send(record, .init(reason: reason, error: message, attempts: attempts, modelVersion: model))
        Counter(label: "rag_dlq_records_total", dimensions: [("stage", deadLetters.stage), ("reason", reason)]).increment()
    }
}
