import FakeModelServer
import Foundation
import Messaging
import Persistence
import TestSupport
import Testing

/// The query path through the gateway, a private broker, Postgres, the embedder and the rag-chain
/// executable (SPEC §4, §7): who may see what, and what a redelivery costs.
@Suite("rag-chain: gateway → rag.queries → rag-chain → answers", .timeLimit(.minutes(5)))
struct RagChainQueryTests {
    /// Distinct texts in two tenants and three visibilities. The fake embedding model maps equal texts to
    /// equal vectors and different texts to unrelated ones, so asking a chunk's exact text retrieves that chunk
    /// (score 1) when the caller may see it and nothing above the threshold when not.
    static let corpus: [(tenant: String, docID: String, text: String, visibility: String)] = ["acme", "globex"].flatMap { tenant in
        ["public", "internal", "confidential"].map { visibility in
            (tenant, "\(tenant)-\(visibility)", "The \(visibility) handbook of \(tenant) says the code word is \(tenant)-\(visibility)-\(tenant.count).", visibility)
        }
    }
    static let tiers = ["free": ["public"], "standard": ["public", "internal"], "enterprise": ["public", "internal", "confidential"]]

    @Test("three tiers × two tenants: every answer cites only a chunk the caller may see, none of another tenant; the rest are refused")
    func tiersAndTenants() async throws {
        let harness = try await RagChainHarness(provider: .fake(.init()), environment: ["RAG_RETRIEVAL_MIN_SCORE": "0.9"])
        for tenant in ["acme", "globex"] {
            try await harness.ingest(Self.corpus.filter { $0.tenant == tenant }.map { ($0.docID, $0.text, $0.visibility) }, tenant: tenant)
        }
        var asked: [(queryID: String, tenant: String, tier: String, chunk: (tenant: String, docID: String, text: String, visibility: String))] = []
        for tenant in ["acme", "globex"] {
            for tier in ["free", "standard", "enterprise"] {
                for chunk in Self.corpus {
                    let queryID = try await harness.ask(chunk.text, user: "\(tier)-user", tier: tier, tenant: tenant)
                    asked.append((queryID, tenant, tier, chunk))
                }
            }
        }
        for query in asked {
            let answer = try await harness.answer(query.queryID)
            let visible = query.chunk.tenant == query.tenant && Self.tiers[query.tier]!.contains(query.chunk.visibility)
            #expect(answer.userID == "\(query.tier)-user" && answer.tenant == query.tenant)
            if visible {
                #expect(answer.status == "answered", "\(query.tier)@\(query.tenant) asking \(query.chunk.docID)")
                #expect(answer.citedChunks == [try await harness.chunkID(ofText: query.chunk.text)])
                #expect(answer.answer.contains(query.chunk.text.dropLast()), "the extractive answer quotes the chunk")
                #expect(answer.model == "extractive (no LLM)")
            } else {
                #expect(answer.status == "refused", "\(query.tier)@\(query.tenant) must not see \(query.chunk.docID): \(answer.answer)")
                #expect(answer.citedChunks.isEmpty)
                #expect(answer.answer == "There is no relevant information for your access level.")
            }
        }
        // Every answer has its outbox row for rag.results, with the asker's identity in its headers.
        let outbox = try await harness.pool.query(
            "SELECT count(*), count(*) FILTER (WHERE headers->>'user-id' LIKE '%-user' AND headers ? 'tenant' AND headers ? 'user-tier') FROM outbox WHERE type = 'answer.ready'")
            .singleRow()
        #expect(try outbox.decode(Int.self, at: 0) == asked.count && outbox.decode(Int.self, at: 1) == asked.count)
    }

    @Test("embedded MiniLM and the extractive answerer: a question that paraphrases a chunk cites that chunk",
          .enabled(if: MiniLMModel.isPresent || ProcessInfo.processInfo.environment["CI"] != nil, "the MiniLM model is missing (make deps)"))
    func paraphrase() async throws {
        let harness = try await RagChainHarness(provider: .minilm)
        let chunks = [
            ("vacation", "Every employee receives twenty-five days of paid vacation per calendar year.", "public"),
            ("parking", "The office car park opens at seven in the morning and closes at nine in the evening.", "public"),
            ("laptops", "Laptops are replaced every three years by the IT department.", "public"),
            ("expenses", "Travel expenses must be submitted within thirty days of the trip.", "public"),
        ]
        try await harness.ingest(chunks, tenant: "acme")
        let queryID = try await harness.ask("How much annual leave do staff get?", user: "alice", tier: "free", tenant: "acme")
        let answer = try await harness.answer(queryID)
        #expect(answer.status == "answered")
        #expect(answer.citedChunks.first == (try await harness.chunkID(ofText: chunks[0].1)), "\(answer.answer)")
        #expect(answer.answer.contains("twenty-five days"))
    }

    @Test("a redelivered query (offsets reset to the start) costs no model call and adds no answer, no result and no second SSE event")
    func redeliveryIsFree() async throws {
        let harness = try await RagChainHarness(provider: .fake(.init()), environment: ["RAG_RETRIEVAL_MIN_SCORE": "0.9"])
        let server = try #require(harness.pipeline.fakeServer)
        try await harness.startRelay()
        let stream = try await SSESubscriber(harness.gateway, path: "/results", token: try await harness.gateway.token("bob", tier: "enterprise", tenant: "acme", scopes: []))
        try await harness.ingest(Self.corpus.filter { $0.tenant == "acme" }.map { ($0.docID, $0.text, $0.visibility) }, tenant: "acme")
        var queryIDs: [String] = []
        for chunk in Self.corpus where chunk.tenant == "acme" {
            queryIDs.append(try await harness.ask(chunk.text, user: "bob", tier: "enterprise", tenant: "acme"))
        }
        for queryID in queryIDs { _ = try await harness.answer(queryID) }
        try await eventually("every query committed") { try await harness.committedQueries() == Int64(queryIDs.count) }
        let embeddingCalls = server.stats.requests["embeddings"] ?? 0

        await harness.stopRagChain()
        try await eventually("the rag-chain has left its group") { !harness.ragChain.isRunning }
        let admin = KafkaAdmin(bootstrapServers: harness.gateway.bootstrap, logger: GatewayHarness.logger)
        var rewind: [KafkaTopicPartition: Int64] = [:]
        for partition in 0..<(try await admin.partitionCount(of: harness.gateway.topics.queries)) {
            rewind[KafkaTopicPartition(topic: harness.gateway.topics.queries, partition: partition)] = 0
        }
        var lastError = ""
        try await eventually("the offsets are reset (the group is empty): \(lastError)", timeout: .seconds(30)) {
            do {
                try await admin.commitOffsets(group: RagChainHarness.group, rewind)
                return true
            } catch {
                lastError = "\(error)"
                return false
            }
        }
        #expect(try await harness.committedQueries() == 0)
        try await harness.startRagChain()
        try await eventually("every query consumed again", timeout: .seconds(90)) {
            try await harness.committedQueries() == Int64(queryIDs.count)
        }
        #expect(try await harness.metric("rag_chain_queries_total", where: "already_answered") == Double(queryIDs.count))
        #expect(server.stats.requests["embeddings"] ?? 0 == embeddingCalls, "no model call for a query already answered")
        #expect(try await harness.pool.query("SELECT count(*) FROM answers").singleRow().decode(Int.self, at: 0) == queryIDs.count)
        #expect(try await harness.pool.query("SELECT count(*) FROM outbox WHERE type = 'answer.ready'").singleRow().decode(Int.self, at: 0)
                == queryIDs.count, "no second result")
        try await stream.waitFor(queryIDs.count)
        try await Task.sleep(for: .seconds(2))  // time for a second event to show up, if there were one
        #expect(stream.events.compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any])?["query_id"] as? String
        }.sorted() == queryIDs.sorted(), "one result event per query on the asker's stream")
    }
}
