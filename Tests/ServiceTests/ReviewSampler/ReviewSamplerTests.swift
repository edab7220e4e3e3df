import Foundation
import Messaging
import ModelClients
@testable import RagChain
@testable import ReviewSampler
import Schemas
import TestSupport
import Testing
import WorkerRuntime

/// The sampling decision on its own: deterministic, by rate per tier and model, with the always-sample rules.
@Suite("review-sampler: which results are sampled")
struct ReviewSamplingPolicyTests {
    @Test("a query_id's fraction is the first 8 bytes of its SHA-256 over 2^64 (53 bits), as Python's hashlib computes it")
    func fractionMatchesAnIndependentComputation() {
        // python3 -c "import hashlib; d = hashlib.sha256(q.encode()).digest(); print((int.from_bytes(d[:8], 'big') >> 11) / 2**53)"
        #expect(SamplingPolicy.fraction(of: "00000000-0000-4000-8000-000000000000") == 0.8574269937527691)
        #expect(SamplingPolicy.fraction(of: "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab") == 0.42761077057977004)
    }

    @Test("a rate selects about its share of query_ids, always the same ones, nested: one sampled at a rate is sampled at every higher rate")
    func ratesSelectTheirShare() {
        let ids = (0..<20_000).map { String(format: "%08x-0000-4000-8000-%012x", $0, $0 * 7919) }
        let fractions = ids.map(SamplingPolicy.fraction(of:))
        #expect(fractions.allSatisfy { (0..<1).contains($0) })
        #expect(ids.map(SamplingPolicy.fraction(of:)) == fractions, "the same on every call")
        var previous: Set<Int> = []
        for rate in [0.0, 0.01, 0.05, 0.2, 0.5, 1.0] {
            let chosen = Set(fractions.indices.filter { fractions[$0] < rate })
            let expected = Double(ids.count) * rate
            let spread = 4 * (expected * (1 - rate)).squareRoot()
            #expect(abs(Double(chosen.count) - expected) <= spread, "rate \(rate): \(chosen.count) of \(ids.count)")
            #expect(previous.isSubset(of: chosen), "rate \(rate) keeps every query chosen at a lower rate")
            previous = chosen
        }
        #expect(previous.count == ids.count, "rate 1 samples all")
    }

    @Test("the rate of an answer: tier/model, then tier, then */model, then the default")
    func ratePrecedence() throws {
        let policy = SamplingPolicy(
            rates: try SamplingPolicy.parseRates("free=0.01; standard=0.02;enterprise=0.05;enterprise/gpt-4o=0.2;*/gpt-4o=0.1"),
            defaultRate: 0.03, lowScore: 0.5)
        #expect(policy.rate(tier: "enterprise", model: "gpt-4o") == 0.2)
        #expect(policy.rate(tier: "enterprise", model: "gpt-4o-mini") == 0.05)
        #expect(policy.rate(tier: "free", model: "gpt-4o") == 0.01)
        #expect(policy.rate(tier: "partner", model: "gpt-4o") == 0.1)
        #expect(policy.rate(tier: "partner", model: "llama") == 0.03)
    }

    @Test("RAG_REVIEW_SAMPLE_RATES: model names may hold / and =; entries without a key, out-of-range rates and repeated keys are refused")
    func parsingRates() throws {
        #expect(try SamplingPolicy.parseRates("") == [:])
        #expect(try SamplingPolicy.parseRates("enterprise/meta-llama/Llama-3=0.5;free=0") == ["enterprise/meta-llama/Llama-3": 0.5, "free": 0])
        #expect(try SamplingPolicy.parseRates("*/odd=model=1;") == ["*/odd=model": 1])
        for bad in ["free", "=0.1", "free=1.5", "free=-0.1", "free=x", "free=0.1;free=0.2", "*=0.1", "free/=0.1"] {
            #expect(throws: ConfigurationValueRejection.self, "\(bad)") { try SamplingPolicy.parseRates(bad) }
        }
    }

    @Test("always sampled, whatever the rate: failed, refused, flagged by the rag-chain, a best citation below the threshold or none")
    func alwaysSampled() {
        let never = SamplingPolicy(rates: [:], defaultRate: 0, lowScore: 0.5)
        func result(_ status: ResultEvent.Status, _ scores: [Double]) -> ResultEvent {
            ReviewSamplerTests.result(status: status, scores: scores)
        }
        #expect(never.reason(toReview: result(.failed, []), tier: "free", flagged: false) == .failed)
        #expect(never.reason(toReview: result(.refused, []), tier: "free", flagged: true) == .refused)
        #expect(never.reason(toReview: result(.answered, [0.9]), tier: "free", flagged: true) == .flagged)
        #expect(never.reason(toReview: result(.answered, [0.4, 0.3]), tier: "free", flagged: false) == .lowScore)
        #expect(never.reason(toReview: result(.answered, []), tier: "free", flagged: false) == .lowScore, "an answer that cites nothing")
        #expect(never.reason(toReview: result(.answered, [0.2, 0.5]), tier: "free", flagged: false) == nil, "the best citation counts")
        let always = SamplingPolicy(rates: [:], defaultRate: 1, lowScore: 0.5)
        #expect(always.reason(toReview: result(.answered, [0.9]), tier: "free", flagged: false) == .sampled)
    }

    @Test("the memory of sampled query_ids forgets the oldest beyond its capacity")
    func recentQueryIDs() {
        let recent = RecentQueryIDs(capacity: 3)
        for id in ["a", "b", "c", "a", "d"] { recent.insert(id) }
        #expect(!recent.contains("a") && recent.contains("b") && recent.contains("c") && recent.contains("d"))
        #expect(recent.count == 3)
    }

    @Test("rag-chain: a chat answer whose first output failed validation reports two attempts (its result gets a review-flag header)")
    func chatAnswerAttempts() async throws {
        let chat = ScriptedChat(replies: ["No citation here.", "Twenty-five days [1]."])
        let answerer = ChatAnswerer(chat: chat, attempts: 3, maxTokens: 100)
        let request = AnswerRequest(question: "How many days?", passages: [RetrievedChunk(chunkID: "c1", docID: "d1", seq: 0, score: 0.9, text: "25 days")],
                                    prompt: "How many days?")
        let draft = try await answerer.answer(request) { _ in }
        #expect(draft.attempts == 2 && draft.text == "Twenty-five days [1]." && draft.cited == [1])
        let first = try await ChatAnswerer(chat: ScriptedChat(replies: ["Yes [1]."]), attempts: 3, maxTokens: 100).answer(request) { _ in }
        #expect(first.attempts == 1)
    }
}

/// A chat provider that replies with `replies` in turn.
private final class ScriptedChat: ChatProvider, @unchecked Sendable {
    private let replies: [String]
    private let next = Synchronized(0)
    init(replies: [String]) { self.replies = replies }
    var model: String { "scripted" }
    var providerName: String { "scripted" }
    func complete(_ request: ChatRequest, onDelta: @escaping @Sendable (String) async -> Void) async throws(ModelCallError) -> ChatCompletion {
        let index = next.update { value in defer { value += 1 }; return value }
        let text = replies[min(index, replies.count - 1)]
        await onDelta(text)
        return ChatCompletion(text: text, model: "scripted", promptTokens: 1, completionTokens: 1)
    }
}

/// A value behind a lock (tests only).
private final class Synchronized<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func update<Result>(_ body: (inout Value) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// The review-sampler executable against a private broker (SPEC §2, §3, §7).
@Suite("review-sampler: rag.results → rag.human-review", .serialized, .timeLimit(.minutes(5)))
struct ReviewSamplerTests {
    /// A ResultEvent citing one chunk per score.
    static func result(_ queryID: String = UUID().uuidString.lowercased(), status: ResultEvent.Status = .answered, scores: [Double] = [0.9],
                       model: String = "extractive (no LLM)") -> ResultEvent {
        ResultEvent(queryID: queryID, status: status, answer: status == .answered ? "An answer [1]." : "No answer.",
                    citations: scores.enumerated().map { Citation(chunkID: "acme:doc-\($0.offset):0", docID: "doc-\($0.offset)", score: $0.element) },
                    model: model, promptVersion: "answer-v1", usage: TokenUsage(promptTokens: 10, completionTokens: 5), latencyMilliseconds: 12,
                    embeddingModel: "minilm")
    }

    @Test("a replay (stop, rewind the group to the start, start) samples exactly the same query_ids into byte-identical items")
    func replaySamplesTheSame() async throws {
        let rates = "free=0.1;enterprise=0.6"
        let harness = try await ReviewSamplerHarness(environment: ["RAG_REVIEW_SAMPLE_RATES": rates, "RAG_REVIEW_DEFAULT_RATE": "0.3"])
        let tiers = ["free", "standard", "enterprise"]
        var produced: [(tier: String, result: ResultEvent)] = []
        for index in 0..<90 {
            let status: ResultEvent.Status = index % 15 == 0 ? .refused : .answered
            let scores = index % 20 == 7 ? [0.3] : [0.9, 0.4]
            produced.append((tiers[index % 3], Self.result(status: status, scores: scores)))
        }
        let policy = SamplingPolicy(rates: try SamplingPolicy.parseRates(rates), defaultRate: 0.3, lowScore: 0.5)
        var expected: [String: String] = [:]
        for (tier, result) in produced {
            if let reason = policy.reason(toReview: result, tier: tier, flagged: false) { expected[result.queryID] = reason.rawValue }
        }
        #expect(expected.values.contains("sampled") && expected.values.contains("refused") && expected.values.contains("low_score"))
        #expect(expected.count < produced.count, "some are skipped")

        try await harness.produce(produced.map { harness.resultRecord($0.result, tier: $0.tier) })
        try await harness.waitUntilAllConsumed()
        #expect(try await harness.recordCount(harness.topics.humanReview) == Int64(expected.count))
        let results = try await harness.records(harness.topics.results, count: produced.count)
        var resultTimes: [String: Int64] = [:]
        for record in results { resultTimes[record.keyString ?? ""] = record.timestampMilliseconds }
        let firstPass = try await harness.reviewItems(count: expected.count)
        var firstReasons: [String: String] = [:]
        for (_, item) in firstPass { firstReasons[item.queryID] = item.reason }
        #expect(firstReasons == expected)
        var byID: [String: (tier: String, result: ResultEvent)] = [:]
        for entry in produced { byID[entry.result.queryID] = entry }
        for (record, item) in firstPass {
            #expect(record.keyString == item.queryID)
            #expect(item.result == byID[item.queryID]?.result, "the result as published")
            #expect(item.contextRef == "rag.context:\(item.queryID)")
            #expect(Int64((item.sampledAt.timeIntervalSince1970 * 1000).rounded()) == resultTimes[item.queryID], "sampled_at: the result's record time")
            #expect(record.headers.value("user-tier") == byID[item.queryID]?.tier && record.headers.value("tenant") == "acme")
            #expect(record.headers.value("schema-version") == SchemaName.reviewItem.version && record.headers.value("outbox-id") == nil)
        }

        await harness.stopSampler()
        try await harness.rewindToEarliest()
        #expect(try await harness.committedResults() == 0)
        try await harness.startSampler()
        try await harness.waitUntilAllConsumed()
        #expect(try await harness.recordCount(harness.topics.humanReview) == Int64(2 * expected.count))
        let bothPasses = try await harness.records(harness.topics.humanReview, count: 2 * expected.count)
        let byKey = Dictionary(grouping: bothPasses) { $0.keyString ?? "" }
        #expect(Set(byKey.keys) == Set(expected.keys), "the replay sampled the same query_ids")
        for (key, records) in byKey {
            #expect(records.count == 2, "\(key): once per pass")
            #expect(records.map(\.value).allSatisfy { $0 == records[0].value }, "\(key): the replay's item is byte-identical")
            #expect(records.map(\.headers).allSatisfy { $0 == records[0].headers }, "\(key): with the same headers")
        }
        #expect(try await harness.metric("review_sampler_results_total", where: "outcome=\"sampled\"") == Double(expected.count))
        #expect(try await harness.metric("review_sampler_results_total", where: "outcome=\"skipped\"", "not_selected")
                == Double(produced.count - expected.count))
    }

    @Test("one ReviewItem per query_id: a result published twice, in the same batch or much later, adds no second item")
    func oneItemPerQuery() async throws {
        let harness = try await ReviewSamplerHarness(environment: ["RAG_REVIEW_DEFAULT_RATE": "1"])
        let results = (0..<20).map { _ in Self.result() }
        let first = results.map { harness.resultRecord($0, tier: "standard", outboxID: 1) }
        let again = results.map { harness.resultRecord($0, tier: "standard", outboxID: 2) }
        try await harness.produce(zip(first, again).flatMap { [$0, $1] })
        try await harness.waitUntilAllConsumed()
        try await harness.produce([harness.resultRecord(results[0], tier: "standard", outboxID: 3)])
        try await harness.waitUntilAllConsumed()

        #expect(try await harness.recordCount(harness.topics.humanReview) == Int64(results.count))
        let items = try await harness.reviewItems(count: results.count)
        #expect(items.map { $0.item.queryID }.sorted() == results.map(\.queryID).sorted(), "each query_id once")
        #expect(items.allSatisfy { $0.item.reason == "sampled" })
        #expect(try await harness.metric("review_sampler_results_total", where: "duplicate") == Double(results.count + 1))
    }

    @Test("rates per tier and model, and the always-sample rules: rate 0 samples none of a tier's answers but all its refused, failed, flagged and low-score ones; rate 1 all")
    func ratesAndRules() async throws {
        let harness = try await ReviewSamplerHarness(environment: [
            "RAG_REVIEW_SAMPLE_RATES": "free=0;enterprise=1;standard/special-model=1", "RAG_REVIEW_DEFAULT_RATE": "0", "RAG_REVIEW_LOW_SCORE": "0.5",
        ])
        var cases: [(tier: String, result: ResultEvent, flag: String?, reason: String?)] = []
        func add(_ count: Int, _ tier: String, _ make: () -> ResultEvent, flag: String? = nil, reason: String?) {
            for _ in 0..<count { cases.append((tier, make(), flag, reason)) }
        }
        add(10, "free", { Self.result() }, reason: nil)
        add(3, "free", { Self.result(status: .refused, scores: []) }, reason: "refused")
        add(2, "free", { Self.result(status: .failed, scores: []) }, reason: "failed")
        add(1, "free", { Self.result(scores: [0.3, 0.2]) }, reason: "low_score")
        add(1, "free", { Self.result(scores: []) }, reason: "low_score")
        add(1, "free", { Self.result() }, flag: "output_retried", reason: "flagged")
        add(5, "enterprise", { Self.result() }, reason: "sampled")
        add(5, "standard", { Self.result() }, reason: nil)
        add(3, "standard", { Self.result(model: "special-model") }, reason: "sampled")
        try await harness.produce(cases.map { harness.resultRecord($0.result, tier: $0.tier, flag: $0.flag) })
        try await harness.waitUntilAllConsumed()

        var expected: [String: String] = [:]
        for entry in cases { expected[entry.result.queryID] = entry.reason }
        #expect(try await harness.recordCount(harness.topics.humanReview) == Int64(expected.count))
        let items = try await harness.reviewItems(count: expected.count)
        var reasons: [String: String] = [:]
        for (_, item) in items { reasons[item.queryID] = item.reason }
        #expect(reasons == expected)
        let flagged = try #require(items.first { $0.item.reason == "flagged" })
        #expect(flagged.record.headers.value("review-flag") == "output_retried")
        for reason in ["refused", "failed", "low_score", "flagged", "sampled"] {
            #expect(try await harness.metric("review_sampler_results_total", where: "outcome=\"sampled\"", "reason=\"\(reason)\"")
                    == Double(expected.values.filter { $0 == reason }.count), "\(reason)")
        }
        #expect(try await harness.metric("review_sampler_results_total", where: "not_selected") == 15)
    }

    @Test("a record that is not a ResultEvent, or lacks the identity headers, goes to rag.dlq unchanged; later records of its partition are sampled")
    func badRecordsToTheDeadLetterTopic() async throws {
        let harness = try await ReviewSamplerHarness(environment: ["RAG_REVIEW_DEFAULT_RATE": "1"])
        let results = harness.topics.results
        let noIdentity = Self.result()
        let mismatched = Self.result()
        var schemaViolation = String(decoding: Self.result().encoded(), as: UTF8.self)
        schemaViolation = schemaViolation.replacingOccurrences(of: "\"answered\"", with: "\"maybe\"")
        let bad = [
            KafkaOutgoingRecord(topic: results, partition: 0, key: Array("k-0".utf8), value: Array("{not json".utf8),
                                headers: harness.resultRecord(noIdentity, tier: "free").headers),
            KafkaOutgoingRecord(topic: results, partition: 1, key: Array(noIdentity.queryID.utf8), value: noIdentity.encoded(),
                                headers: [KafkaHeader("model", noIdentity.model)]),
            KafkaOutgoingRecord(topic: results, partition: 2, key: Array("k-2".utf8), value: Array(schemaViolation.utf8),
                                headers: harness.resultRecord(noIdentity, tier: "free").headers),
            KafkaOutgoingRecord(topic: results, partition: 0, key: Array("another-key".utf8), value: mismatched.encoded(),
                                headers: harness.resultRecord(mismatched, tier: "free").headers),
        ]
        let good = (0..<6).map { _ in Self.result() }
        let goodRecords = good.enumerated().map { index, result in
            var record = harness.resultRecord(result, tier: "free")
            record.partition = Int32(index % 3)  // after a bad record on every partition
            return record
        }
        try await harness.produce(bad + goodRecords)
        try await harness.waitUntilAllConsumed()

        #expect(try await harness.recordCount(harness.topics.deadLetters) == Int64(bad.count))
        let letters = try await harness.records(harness.topics.deadLetters, count: bad.count)
        #expect(Set(letters.compactMap { $0.headers.value("dlq-reason") }) == ["invalid_message", "missing_identity", "schema_violation", "key_mismatch"])
        for letter in letters {
            #expect(letter.headers.value("dlq-stage") == "review-sampler" && letter.headers.value("original-topic") == results)
            let original = try #require(bad.first { $0.key == letter.key }, "the original key")
            #expect(letter.value == original.value, "the original value, unchanged")
            #expect(letter.headers.value("original-partition") == String(original.partition ?? -1))
        }
        #expect(try await harness.recordCount(harness.topics.humanReview) == Int64(good.count))
        let items = try await harness.reviewItems(count: good.count)
        #expect(items.map { $0.item.queryID }.sorted() == good.map { $0.queryID }.sorted(), "every later result sampled")
        #expect(try await harness.metric("rag_dlq_records_total", where: "review-sampler") == Double(bad.count))
    }
}
