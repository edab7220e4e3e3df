import Crypto
import FakeModelServer
import Foundation
import Messaging
import Persistence
import TestSupport
import Testing

@Suite("Embedder: gateway → rag.chunks → embedder → pgvector", .timeLimit(.minutes(5)))
struct EmbedderPipelineTests {
    @Test("1,000 chunks through the gateway become 1,000 rows with their tenant, visibility and the vectors of `ragctl embed`",
          .enabled(if: MiniLMModel.isPresent || ProcessInfo.processInfo.environment["CI"] != nil, "the MiniLM model is missing (make deps)"))
    func embeddedModel() async throws {
        let pipeline = try await PipelineHarness(provider: .minilm)
        let corpus = PipelineHarness.corpus(1000)
        try await pipeline.post(corpus)
        try await pipeline.waitForRows(1000)
        #expect(try await pipeline.rowCount() == 1000)

        let rows = try await pipeline.pool.query("SELECT doc_id, seq, tenant, visibility, model, text FROM chunks")
        var stored: [String: (tenant: String, visibility: String, model: String, text: String)] = [:]
        for row in rows {
            stored["\(try row.decode(String.self, at: 0))/\(try row.decode(Int.self, at: 1))"] =
                (try row.decode(String.self, at: 2), try row.decode(String.self, at: 3), try row.decode(String.self, at: 4), try row.decode(String.self, at: 5))
        }
        for chunk in corpus {
            let row = try #require(stored["\(chunk.docID)/\(chunk.seq)"])
            #expect(row.tenant == "acme" && row.visibility == chunk.visibility && row.model == "all-MiniLM-L6-v2" && row.text == chunk.text)
        }

        // The stored vectors are what `ragctl embed` computes for the same texts.
        let sample = stride(from: 0, to: corpus.count, by: 97).map { corpus[$0] }
        let reference = try await Self.ragctlEmbed(sample.map(\.text))
        for (chunk, expected) in zip(sample, reference) {
            let vector = try await pipeline.pool.query("SELECT embedding FROM chunks WHERE doc_id = $1 AND seq = $2", chunk.docID, chunk.seq)
                .singleRow().decode([Float].self, at: 0)
            let maxDifference = zip(vector, expected).map { abs($0 - $1) }.max() ?? 1
            #expect(vector.count == 384 && maxDifference <= 1e-4, "\(chunk.docID)/\(chunk.seq): max |Δ| \(maxDifference)")
        }
        // One document.indexed outbox event per document (each was posted as one batch, maybe split across batches).
        let documents = try await pipeline.pool.query("SELECT count(DISTINCT aggregateid), sum((payload->>'chunks')::int) FROM outbox WHERE type = 'document.indexed'").singleRow()
        #expect(try documents.decode(Int.self, at: 0) == 20 && documents.decode(Int.self, at: 1) == 1000)
    }

    @Test("the same 1,000 chunks posted again: still 1,000 rows and not one more model call")
    func repostCostsNothing() async throws {
        let pipeline = try await PipelineHarness(provider: .fake(.init()))
        let server = try #require(pipeline.fakeServer)
        let corpus = PipelineHarness.corpus(1000)
        try await pipeline.post(corpus)
        try await pipeline.waitForRows(1000)
        try await eventually("every record processed") { server.stats.embeddedTexts >= 1000 }
        let callsAfterFirst = server.stats.requests["embeddings"] ?? 0
        #expect(server.stats.embeddedTexts == 1000)

        #expect(try await pipeline.outboxChunks() == ["indexed": 1000], "document.indexed events report each chunk once")
        try await pipeline.post(corpus)
        try await eventually("the re-posted chunks are processed (unchanged)") {
            try await pipeline.metric("rag_embedder_chunks_total", where: "unchanged") >= 1000
        }
        #expect(try await pipeline.rowCount() == 1000)
        #expect(try await pipeline.outboxChunks() == ["indexed": 1000], "a re-post that changes nothing adds no event")
        #expect(server.stats.requests["embeddings"] ?? 0 == callsAfterFirst, "no model call for unchanged content")
        #expect(server.stats.embeddedTexts == 1000)
        let vector = try await pipeline.pool.query("SELECT embedding, text FROM chunks LIMIT 1").singleRow()
        #expect(try vector.decode([Float].self, at: 0) == FakeEmbedding.vector(for: try vector.decode(String.self, at: 1), model: "fake-embedding", dimensions: 384))

        // Same text, another visibility: the row follows, still without a model call.
        let reclassified = corpus.filter { $0.docID == "doc-0" }.map { ($0.docID, $0.seq, $0.text, "confidential") }
        try await pipeline.post(reclassified)
        try await eventually("doc-0 is confidential now") {
            try await pipeline.pool.query("SELECT count(*) FROM chunks WHERE doc_id = 'doc-0' AND visibility = 'confidential'")
                .singleRow().decode(Int.self, at: 0) == reclassified.count
        }
        #expect(try await pipeline.rowCount() == 1000)
        #expect(server.stats.embeddedTexts == 1000)
        #expect(try await pipeline.outboxChunks() == ["indexed": 1000, "unchanged": reclassified.count],
                "events for the reclassified chunks only")
        let reclassifiedDocuments = try await pipeline.pool.query(
            "SELECT DISTINCT aggregateid FROM outbox WHERE payload->>'status' = 'unchanged'").map { try $0.decode(String.self, at: 0) }
        #expect(reclassifiedDocuments == ["doc-0"])
    }

    @Test("a chunk with U+0000 in a metadata key (which jsonb refuses) goes to rag.dlq; its partition moves on")
    func databaseRejection() async throws {
        let pipeline = try await PipelineHarness(provider: .fake(.init()))
        // Straight onto rag.chunks, as a producer other than the gateway could (the gateway refuses U+0000).
        let text = "A chunk whose metadata Postgres cannot store."
        let value = #"{"doc_id":"mixed","seq":0,"text":"\#(text)","visibility":"public","content_sha256":"\#(sha256Hex(text))","metadata":{"bad\u0000key":1}}"#
        try await pipeline.gateway.produce(pipeline.gateway.topics.chunks, key: "mixed", value: value,
                                           headers: [KafkaHeader("tenant", "acme"), KafkaHeader("user-id", "ingest-bot")])
        // Later records of the same document, so of the same partition.
        let later = (1...20).map { ("mixed", $0, "Part \($0) of the mixed document, stored normally.", "public") }
        try await pipeline.post(later)
        try await pipeline.waitForRows(20)

        let deadLetter = try #require(try await pipeline.gateway.records(pipeline.gateway.topics.deadLetters, count: 1).first)
        // The ChunkEvent schema refuses U+0000 in metadata keys; were it to let one through, Postgres would refuse
        // the row and the record would go to rag.dlq as database_rejected (ChunkIndexerTests).
        #expect(deadLetter.headers.value("dlq-reason") == "schema_violation")
        #expect(deadLetter.headers.value("dlq-error")?.contains("/metadata") == true, "\(deadLetter.headers.value("dlq-error") ?? "")")
        #expect(deadLetter.value == Array(value.utf8), "the original value, unchanged")
        try await eventually("every offset committed past the poison pill") {
            try await pipeline.committedOffsets().values.reduce(0) { $0 + ($1 ?? 0) } == 21
        }
        #expect(try await pipeline.rowCount() == 20)
    }

    @Test("the Postgres host hangs (SIGSTOP): calls fail within the call timeout, no offset moves; after SIGCONT everything lands")
    func postgresHang() async throws {
        let pipeline = try await PipelineHarness(provider: .fake(.init(latencyMilliseconds: 30)), privatePostgres: true,
                                                 environment: ["RAG_EMBEDDING_BATCH_SIZE": "16", "RAG_DATABASE_CALL_TIMEOUT": "2s"])
        try await pipeline.post(PipelineHarness.corpus(500))
        try await eventually("some rows before the hang") { try await pipeline.rowCount() >= 50 }
        let server = try pipeline.postgresProcesses()
        server.freeze()
        var thawed = false
        defer { if !thawed { server.thaw() } }
        try await Task.sleep(for: .seconds(2))
        let before = try await pipeline.committedOffsets()
        try await Task.sleep(for: .seconds(8))
        let during = try await pipeline.committedOffsets()
        #expect(before == during, "no offset moved while Postgres hung")
        #expect(pipeline.embedderLog.contains("did not answer within"), "the calls were ended by the bound, not left hanging")
        server.thaw()
        thawed = true
        try await pipeline.waitForRows(500)
        try await eventually("offsets committed to the end") {
            try await pipeline.committedOffsets().values.reduce(0) { $0 + ($1 ?? 0) } == 500
        }
        #expect(try await pipeline.rowCount() == 500)
    }

    @Test("30 % 429 with Retry-After and 10 % 500: every chunk embedded once, retries counted, no duplicates, no rebalance")
    func flakyProvider() async throws {
        let pipeline = try await PipelineHarness(provider: .fake(.init(rate429: 0.3, retryAfterSeconds: 1, rate500: 0.1)),
                                                 environment: ["RAG_EMBEDDING_MAX_ATTEMPTS": "20"])
        let server = try #require(pipeline.fakeServer)
        try await pipeline.post(PipelineHarness.corpus(1000))
        try await pipeline.waitForRows(1000)
        #expect(try await pipeline.rowCount() == 1000)
        #expect(server.stats.embeddedTexts == 1000, "each text answered with a vector exactly once")
        #expect((server.stats.outcomes["429"] ?? 0) > 0 && (server.stats.outcomes["500"] ?? 0) > 0)
        #expect(try await pipeline.metric("rag_embedding_retries_total") > 0, "retries are visible in the metrics")
        #expect(try await pipeline.metric("kafka_consumer_rebalance_events_total") <= 1, "only the first assignment: never thrown out of the group")
        #expect(try await pipeline.gateway.recordCount(pipeline.gateway.topics.deadLetters) == 0)
        let distinct = try await pipeline.pool.query("SELECT count(DISTINCT (doc_id, seq)) FROM chunks").singleRow().decode(Int.self, at: 0)
        #expect(distinct == 1000)
    }

    @Test("a text the provider refuses (400) goes to rag.dlq with its headers; all the others are stored")
    func poisonText() async throws {
        let corpus = PipelineHarness.corpus(200)
        let poison = corpus[137]
        let pipeline = try await PipelineHarness(provider: .fake(.init(failOnText: [poison.text: 400])))
        try await pipeline.post(corpus)
        try await pipeline.waitForRows(199)
        let deadLetter = try #require(try await pipeline.gateway.records(pipeline.gateway.topics.deadLetters, count: 1).first)
        #expect(deadLetter.keyString == poison.docID)
        #expect(String(decoding: deadLetter.value ?? [], as: UTF8.self).contains(poison.text), "the original value, unchanged")
        #expect(deadLetter.headers.value("dlq-stage") == "embedder")
        #expect(deadLetter.headers.value("dlq-reason") == "embedding_rejected")
        #expect(deadLetter.headers.value("dlq-error")?.contains("400") == true)
        #expect(deadLetter.headers.value("original-topic") == pipeline.gateway.topics.chunks)
        #expect(deadLetter.headers.value("original-partition") != nil && deadLetter.headers.value("original-offset") != nil)
        #expect(deadLetter.headers.value("attempts") == "1")
        #expect(deadLetter.headers.value("model-version") == "fake-embedding")
        #expect(deadLetter.headers.value("tenant") == "acme" && deadLetter.headers.value("user-id") == "ingest-bot", "trusted headers kept")
        try await Task.sleep(for: .seconds(1))
        #expect(try await pipeline.rowCount() == 199)
        let stored = try await pipeline.pool.query("SELECT count(*) FROM chunks WHERE doc_id = $1 AND seq = $2", poison.docID, poison.seq)
            .singleRow().decode(Int.self, at: 0)
        #expect(stored == 0)
    }

    @Test("kill -9 of the embedder mid-run, then a restart: every chunk present exactly once")
    func crashMidRun() async throws {
        let pipeline = try await PipelineHarness(provider: .fake(.init(latencyMilliseconds: 40)), environment: ["RAG_EMBEDDING_BATCH_SIZE": "16"])
        try await pipeline.post(PipelineHarness.corpus(1000))
        try await eventually("some rows before the crash") { try await pipeline.rowCount() >= 150 }
        try await pipeline.killAndRestartEmbedder()
        let atCrash = try await pipeline.rowCount()
        #expect(atCrash < 1000, "the crash happened mid-run")
        try await pipeline.waitForRows(1000)
        try await Task.sleep(for: .seconds(1))
        #expect(try await pipeline.rowCount() == 1000)
        let distinct = try await pipeline.pool.query("SELECT count(DISTINCT (doc_id, seq)) FROM chunks").singleRow().decode(Int.self, at: 0)
        #expect(distinct == 1000)
    }

    @Test("Postgres stopped for 10 s mid-run: no offset is committed meanwhile; afterwards everything lands")
    func postgresOutage() async throws {
        let pipeline = try await PipelineHarness(provider: .fake(.init(latencyMilliseconds: 30)), privatePostgres: true,
                                                 environment: ["RAG_EMBEDDING_BATCH_SIZE": "16"])
        try await pipeline.post(PipelineHarness.corpus(1000))
        try await eventually("some rows before the outage") { try await pipeline.rowCount() >= 100 }
        try await pipeline.pausePostgres()
        // Let the last commits of work finished before the outage go through, then watch the offsets.
        try await Task.sleep(for: .seconds(2))
        let before = try await pipeline.committedOffsets()
        try await Task.sleep(for: .seconds(8))
        let during = try await pipeline.committedOffsets()
        #expect(before == during, "no offset moved while Postgres was down")
        #expect(try await pipeline.metric("kafka_consumer_lag", where: "topic=\"\(pipeline.gateway.topics.chunks)\"") > 0,
                "the stalled work shows as consumer lag")
        try await pipeline.resumePostgres()
        try await pipeline.waitForRows(1000)
        #expect(try await pipeline.rowCount() == 1000)
        try await eventually("offsets committed to the end") {
            let committed = try await pipeline.committedOffsets()
            var total: Int64 = 0
            for (_, offset) in committed { total += offset ?? 0 }
            return total == 1000  // one record per chunk, all partitions starting at 0
        }
        try await eventually("no lag left on any partition") {
            let lag = try await pipeline.metricSeries("kafka_consumer_lag", where: "topic=\"\(pipeline.gateway.topics.chunks)\"")
            return !lag.isEmpty && lag.allSatisfy { $0 == 0 }
        }
    }

    private func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Runs `ragctl embed` on the texts: one vector per text.
    static func ragctlEmbed(_ texts: [String]) async throws -> [[Float]] {
        let lines = try texts.map { text in
            String(decoding: try JSONSerialization.data(withJSONObject: ["text": text]), as: UTF8.self) + "\n"
        }
        let result = try await ProcessRunner.run(
            GatewayHarness.repositoryRoot + "/.build/debug/ragctl", ["embed"],
            environment: ["RAG_MINILM_MODEL_DIR": MiniLMModel.directory], input: Data(lines.joined().utf8))
        try #require(result.status == 0, "ragctl embed failed: \(result.errors)")
        let data = result.output
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(object["embedding"] as? [Double]).map(Float.init)
        }
    }
}
