import Auth
import Foundation
import Logging
import Messaging
import Metrics
import ModelClients
import Persistence
import Retrieval
import Schemas
import ServiceLifecycle
import Tracing
import WorkerRuntime

/// The rag-chain's flow (SPEC §2, §6–§8): rag.queries → already answered? → embed the question → retrieve
/// within the caller's tenant and tier → prompt (masked for an external model) → rag.context → answer
/// (streamed to rag.answer-deltas) → the `answers` row and its outbox row in one transaction → commit.
///
/// The consumer keeps up to `RAG_CHAIN_MAX_IN_FLIGHT` queries in flight and never blocks its poll loop on a
/// model call, so an 8-second model does not get the worker thrown out of its group. The handler returns —
/// and the offset may be committed — only once the answer is durable (or the record is dead-lettered). A
/// handler that throws (Postgres or Kafka unreachable) is retried by the consumer with the record kept.
struct RagChainService: Service {
    let migrator: Migrator
    let consumer: KafkaConsumer
    let embedder: any EmbeddingProvider
    let retriever: ChunkRetriever
    let answerer: any Answerer
    let template: PromptTemplate
    let masker: PIIMasker
    let store: AnswerStore
    let producer: KafkaProducer
    let deadLetters: KafkaDeadLetterWriter
    let schemas: SchemaRegistry
    let tiers: TierPolicy
    let topics: RAGTopics
    let logger: Logger

    private static let refusal = "There is no relevant information for your access level."

    func run() async throws {
        guard try await finishedBeforeGracefulShutdown({ try await migrator.migrateWhenReachable() }) else { return }
        // Partitions and leaders of the topics every answer is sent to, so the first context and delta records
        // are not held up by a metadata request (~0.5 s); without them the records wait for it, nothing is lost.
        do {
            try await producer.prepare(topics: [topics.context, topics.answerDeltas], timeout: .seconds(5))
        } catch {
            logger.warning("no metadata yet for the answer topics", metadata: ["error": "\(error)"])
        }
        try await withGracefulShutdownHandler {
            try await consumer.run { record in try await handle(record) }
        } onGracefulShutdown: {
            consumer.triggerGracefulShutdown()
        }
    }

    /// One span per query, continuing the gateway's (the `traceparent` header), with a child span for the
    /// retrieval, the model call and the write; records sent carry the current span's trace context.
    func handle(_ record: KafkaRecord) async throws {
        try await withSpan("rag-chain query", context: record.headers.traceContext, ofKind: .consumer) { span in
            span.attributes["messaging.kafka.partition"] = Int(record.partition)
            span.attributes["messaging.kafka.offset"] = Int(record.offset)
            try await answerQuery(record)
        }
    }

    private func answerQuery(_ record: KafkaRecord) async throws {
        let started = ContinuousClock.now
        let query: QueryEvent
        do {
            query = try QueryEvent.decode(record.value ?? [], schemas: schemas)
        } catch {
            return try await deadLetter(record, reason: error.kind.rawValue, message: error.message)
        }
        guard let caller = Caller(record.headers) else {
            return try await deadLetter(record, reason: "missing_identity",
                                        message: "the trusted headers user-id, user-tier and tenant are missing (queries come through the gateway)")
        }
        guard let tier = tiers.tier(named: caller.tier) else {
            return try await deadLetter(record, reason: "unknown_tier", message: "the tier \(caller.tier) is not in RAG_TIER_VISIBILITIES")
        }
        // A redelivered query (a crash before the commit, a replay, a rebalance) costs no second model call.
        if try await store.isAnswered(query.queryID) {
            Self.outcome("already_answered").increment()
            return
        }

        let retrievalSpan = startSpan("retrieval")
        let questionVector: [Float]
        do {
            questionVector = try await embedder.embed([query.question])[0]
        } catch {
            retrievalSpan.recordError(error)
            retrievalSpan.end()
            if error.kind == .cancelled { throw error }
            try await deadLetter(record, reason: "embedding_failed", message: error.description, modelVersion: embedder.model)
            return try await recordFailure(query, caller, started, "the question could not be embedded")
        }
        let visibilities = tiers.visibilities(for: tier).map(\.rawValue).sorted()
        let passages: [RetrievedChunk]
        do {
            defer { retrievalSpan.end() }
            passages = try await retriever.retrieve(questionVector, tenant: caller.tenant, visibilities: visibilities, topK: query.topK)
            retrievalSpan.attributes["rag.passages"] = passages.count
        } catch {
            retrievalSpan.recordError(error)
            throw error
        }
        guard !passages.isEmpty else {
            Self.outcome("refused").increment()
            return try await recordResult(query, caller, started, status: .refused, answer: Self.refusal, citations: [],
                                          usage: TokenUsage(promptTokens: 0, completionTokens: 0), modelVersion: answerer.model)
        }

        let prompt = renderPrompt(query.question, passages)
        let context = ContextEvent(queryID: query.queryID, chunks: passages, prompt: prompt, model: answerer.model,
                                   promptVersion: template.version, promptHash: template.hash)
        // rag.context goes out while the model answers; it is acknowledged before any outcome is written, so a
        // query whose context was not delivered is not recorded (and is retried).
        async let contextSent = producer.send(KafkaOutgoingRecord(
            topic: topics.context, key: query.queryID, value: context.encoded(),
            headers: (caller.headers + modelHeaders(answerer.model) + [schemaHeader(.contextEvent)]).continuingCurrentSpan()))

        let answered: Result<AnswerDraft, AnswerFailure>
        do {
            answered = .success(try await answer(query, prompt: prompt, passages: passages, caller: caller))
        } catch {
            answered = .failure(error)
        }
        _ = try await contextSent
        let draft: AnswerDraft
        do {
            draft = try answered.get()
        } catch {
            let (reason, raw): (String, String?) = switch error {
            case .invalidOutput(let raw, _, _): ("invalid_model_output", raw)
            case .modelCall: ("model_call_failed", nil)
            }
            try await deadLetter(record, reason: reason, message: error.description, modelVersion: answerer.model, rawOutput: raw)
            return try await recordFailure(query, caller, started, "the model could not answer: \(error)")
        }
        let citations = draft.cited.map { number in
            let passage = passages[number - 1]
            return Citation(chunkID: passage.chunkID, docID: passage.docID, score: passage.score)
        }
        Self.outcome(draft.isRefusal ? "refused" : "answered").increment()
        try await recordResult(query, caller, started, status: draft.isRefusal ? .refused : .answered,
                               answer: draft.isRefusal ? Self.refusal : draft.text, citations: citations, usage: draft.usage,
                               modelVersion: draft.modelVersion,
                               // The model needed another try: the review-sampler always samples such an answer.
                               extraHeaders: draft.attempts > 1 ? [KafkaHeader("review-flag", "output_retried")] : [])
    }

    // MARK: - Steps

    /// The prompt over the passages; what leaves for an external model has personal data masked.
    private func renderPrompt(_ question: String, _ passages: [RetrievedChunk]) -> String {
        guard answerer.sendsPromptOutside else {
            return template.render(question: question, passages: passages.map(\.text), documents: passages.map(\.docID))
        }
        return template.render(question: masker.mask(question).text, passages: passages.map { masker.mask($0.text).text },
                               documents: passages.map(\.docID))
    }

    /// Runs the answerer, streaming its pieces to rag.answer-deltas when the query asked for it.
    private func answer(_ query: QueryEvent, prompt: String, passages: [RetrievedChunk], caller: Caller) async throws(AnswerFailure) -> AnswerDraft {
        let request = AnswerRequest(question: query.question, passages: passages, prompt: prompt)
        let span = startSpan("model call", ofKind: .client)
        span.attributes["gen_ai.request.model"] = answerer.model
        defer { span.end() }
        guard query.stream else {
            do {
                return try await answerer.answer(request) { _ in }
            } catch {
                span.recordError(error)
                throw error
            }
        }
        let deltas = DeltaPublisher(producer: producer, topic: topics.answerDeltas, queryID: query.queryID,
                                    headers: (caller.headers + [schemaHeader(.deltaEvent)]).continuingCurrentSpan(), logger: logger)
        async let published = deltas.run()
        let result: Result<AnswerDraft, AnswerFailure>
        do {
            result = .success(try await answerer.answer(request) { piece in deltas.append(piece) })
        } catch {
            span.recordError(error)
            result = .failure(error)
        }
        deltas.finish()
        _ = await published
        return try result.get()
    }

    private func recordFailure(_ query: QueryEvent, _ caller: Caller, _ started: ContinuousClock.Instant, _ reason: String) async throws {
        Self.outcome("failed").increment()
        try await recordResult(query, caller, started, status: .failed, answer: "No answer: \(reason).", citations: [],
                               usage: TokenUsage(promptTokens: 0, completionTokens: 0), modelVersion: answerer.model)
    }

    /// The answers row and its outbox row (published to rag.results by outbox-relay), in one transaction.
    private func recordResult(
        _ query: QueryEvent, _ caller: Caller, _ started: ContinuousClock.Instant, status: ResultEvent.Status, answer: String,
        citations: [Citation], usage: TokenUsage, modelVersion: String, extraHeaders: [KafkaHeader] = []
    ) async throws {
        let latency = ContinuousClock.now - started
        let result = ResultEvent(
            queryID: query.queryID, status: status, answer: answer, citations: citations, model: answerer.model,
            promptVersion: template.version, usage: usage,
            latencyMilliseconds: Int(latency.components.seconds * 1000 + latency.components.attoseconds / 1_000_000_000_000_000),
            embeddingModel: embedder.model)
        try await withSpan("write answer") { span in
            span.attributes["rag.status"] = status.rawValue
            // The outbox row carries this span's trace context: the relay's publish continues from it.
            let headers = (caller.headers + modelHeaders(modelVersion) + [schemaHeader(.resultEvent)] + extraHeaders).continuingCurrentSpan().compactMap { header in
                header.value.map { (header.name, String(decoding: $0, as: UTF8.self)) }
            }
            try await store.record(AnswerStore.Record(
                result: result, userID: caller.userID, tenant: caller.tenant, tier: caller.tier, question: query.question,
                promptHash: template.hash, headers: headers))
        }
        Self.latency.record(duration: latency)
    }

    private func modelHeaders(_ modelVersion: String) -> [KafkaHeader] {
        [KafkaHeader("model", answerer.model), KafkaHeader("model-version", modelVersion), KafkaHeader("embedding-model", embedder.model),
         KafkaHeader("prompt-version", template.version), KafkaHeader("prompt-hash", template.hash)]
    }

    private func schemaHeader(_ name: SchemaName) -> KafkaHeader {
        KafkaHeader("schema-version", name.version)
    }

    private func deadLetter(
        _ record: KafkaRecord, reason: String, message: String, modelVersion: String? = nil, rawOutput: String? = nil
    ) async throws {
        logger.warning("query sent to the dead-letter topic", metadata: [
            "reason": "\(reason)", "error": "\(message)", "partition": "\(record.partition)", "offset": "\(record.offset)",
        ])
        var letter = deadLetters.deadLetter(
            for: record, .init(reason: reason, error: message, attempts: 1, modelVersion: modelVersion,
                               promptID: modelVersion == nil ? nil : "\(template.version)@\(template.hash.prefix(12))"))
        if let rawOutput {
            // The model's last output, for whoever investigates (bounded: a header is no place for megabytes).
            letter.headers.append(KafkaHeader("model-output", String(rawOutput.prefix(64 * 1024))))
        }
        try await producer.send(letter)
        Counter(label: "rag_dlq_records_total", dimensions: [("stage", deadLetters.stage), ("reason", reason)]).increment()
    }

    private static func outcome(_ name: String) -> Counter {
        Counter(label: "rag_chain_queries_total", dimensions: [("outcome", name)])
    }

    private static let latency = Metrics.Timer(label: "rag_chain_answer_duration_seconds", preferredDisplayUnit: .seconds)
}

/// Who asked: the trusted identity headers the gateway set, plus the request's trace headers, forwarded
/// unchanged onto everything the query produces.
struct Caller {
    var userID: String
    var tier: String
    var tenant: String
    var headers: [KafkaHeader]

    init?(_ headers: [KafkaHeader]) {
        guard let userID = headers.value("user-id"), let tier = headers.value("user-tier"), let tenant = headers.value("tenant") else {
            return nil
        }
        self.userID = userID
        self.tier = tier
        self.tenant = tenant
        self.headers = [KafkaHeader("user-id", userID), KafkaHeader("user-tier", tier), KafkaHeader("tenant", tenant)]
            + ["request-id", "traceparent"].compactMap { name in headers.value(name).map { KafkaHeader(name, $0) } }
    }
}
