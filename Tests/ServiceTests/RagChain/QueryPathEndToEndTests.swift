import FakeModelServer
import Foundation
import Messaging
import Persistence
import TestSupport
import Testing

/// The whole query path, every hop a real process: gateway → rag.queries → rag-chain → Postgres (`answers`
/// and `outbox`) → outbox-relay → rag.results → the gateway → the asker's SSE stream (SPEC §2, §7, §11).
@Suite("query path end to end: gateway → rag-chain → outbox-relay → SSE", .timeLimit(.minutes(5)))
struct QueryPathEndToEndTests {
    static let chunks = [
        ("handbook", "Employees receive twenty-five days of paid vacation per year.", "public"),
        ("salaries", "The salary bands of the engineering ladder are reviewed every March.", "confidential"),
        ("parking", "Parking permits are issued by the facilities team.", "public"),
    ]
    /// The fake chat model answers every question with this, citing the first passage.
    static let answerText = "According to the handbook it is twenty-five days [1]."
    static let chatEnvironment = ["RAG_RETRIEVAL_MIN_SCORE": "0.9", "RAG_CHAT_PROVIDER": "openai", "RAG_CHAT_MODEL": "fake-chat"]
    /// Enough requests for the load tests: the gateway's rate limits are not under test here.
    static let gatewayEnvironment = ["RAG_GATEWAY_RATE_LIMITS": "free=1000/1000;standard=1000/1000;enterprise=1000/1000",
                                     "RAG_GATEWAY_SSE_MAX_PER_USER": "1000"]

    static func json(_ text: String) -> [String: Any] {
        ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]) ?? [:]
    }

    @Test("the asker's stream gets the answer token by token, then one result citing the retrieved chunk; a lower tier gets the refusal")
    func answerReachesTheAsker() async throws {
        // Ten tokens 150 ms apart: the stream lasts long enough to be seen token by token.
        let controls = FakeModelServer.Controls(tokenDelayMilliseconds: 150, answerTemplate: Self.answerText)
        let harness = try await RagChainHarness(provider: .fake(controls), environment: Self.chatEnvironment)
        try await harness.startRelay()
        try await harness.ingest(Self.chunks, tenant: "acme")

        let queryID = try await harness.ask(Self.chunks[0].1, user: "carol", tier: "free", tenant: "acme", stream: true)
        let stream = try await SSESubscriber(harness.gateway, path: "/results/\(queryID)",
                                             token: try await harness.gateway.token("carol", tier: "free", tenant: "acme", scopes: []))
        try await eventually("the stream ends with its result") { stream.ended }
        let events = stream.events
        #expect(events.last?.event == "result")
        #expect(events.filter { $0.event == "result" }.count == 1)
        let deltas = events.filter { $0.event == "delta" }.map { Self.json($0.data) }
        #expect(deltas.count >= 3, "the answer arrived token by token: \(deltas.count) deltas")
        #expect(deltas.compactMap { $0["index"] as? Int } == Array(0..<deltas.count), "tokens in order, none twice")
        // The gateway reads rag.answer-deltas and rag.results independently: the result (the whole answer)
        // may overtake the last deltas, and it ends the stream.
        #expect(Self.answerText.hasPrefix(deltas.compactMap { $0["text"] as? String }.joined()))
        let result = Self.json(try #require(events.last).data)
        #expect(result["query_id"] as? String == queryID && result["status"] as? String == "answered")
        #expect(result["answer"] as? String == Self.answerText && result["model"] as? String == "fake-chat")
        let citations = (result["citations"] as? [[String: Any]]) ?? []
        #expect(citations.compactMap { $0["chunk_id"] as? String } == [try await harness.chunkID(ofText: Self.chunks[0].1)])

        // Only a confidential chunk matches: a free user's answer is the refusal, on its own stream.
        let refusedID = try await harness.ask(Self.chunks[1].1, user: "carol", tier: "free", tenant: "acme")
        let refusal = try await SSESubscriber(harness.gateway, path: "/results/\(refusedID)",
                                              token: try await harness.gateway.token("carol", tier: "free", tenant: "acme", scopes: []))
        try await refusal.waitFor(1)
        let refused = Self.json(refusal.events[0].data)
        #expect(refusal.events[0].event == "result" && refused["status"] as? String == "refused")
        #expect(((refused["citations"] as? [Any]) ?? [1]).isEmpty)
    }

    @Test("200 queries against an 8 s model, 256 in flight: all answered within 12 s, every model call concurrent, no rebalance, bounded memory")
    func slowModelNeverBlocksThePollLoop() async throws {
        // Latency on chat only: the embeddings (of chunks and questions) stay instant.
        let controls = FakeModelServer.Controls(faultEndpoints: [.chatCompletions], answerTemplate: Self.answerText)
        let harness = try await RagChainHarness(provider: .fake(controls),
                                                environment: Self.chatEnvironment.merging(["RAG_CHAIN_MAX_IN_FLIGHT": "256", "RAG_CHAT_TIMEOUT": "30s"]) { $1 },
                                                gatewayEnvironment: Self.gatewayEnvironment)
        let server = try #require(harness.pipeline.fakeServer)
        try await harness.ingest(Self.chunks, tenant: "acme")
        // A first query, answered at once, so the rag-chain has its partitions before the clock starts.
        _ = try await harness.answer(try await harness.ask(Self.chunks[0].1, user: "warm-up", tier: "standard", tenant: "acme"))
        let rebalances = try await harness.metric("kafka_consumer_rebalance_events_total")
        _ = try server.updateControls { $0.latencyMilliseconds = 8000 }

        let count = 200
        let tokens = try await (0..<10).asyncMap { try await harness.gateway.token("user-\($0)", tier: "standard", tenant: "acme", scopes: []) }
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["question": Self.chunks[2].1]), as: UTF8.self)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask {
                    let response = try await harness.gateway.post("/queries", body, token: tokens[index % tokens.count])
                    #expect(response.status == 202, "\(response.text)")
                }
            }
            try await group.waitForAll()
        }
        try await eventually("\(count + 1) answers", timeout: .seconds(90)) {
            try await harness.pool.query("SELECT count(*) FROM answers").singleRow().decode(Int.self, at: 0) == count + 1
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed <= .seconds(12), "200 × 8 s model calls took \(elapsed): they did not all run at once")
        #expect(server.stats.requests(.chatCompletions) == count + 1)
        #expect(server.stats.peakConcurrentRequests >= count, "peak \(server.stats.peakConcurrentRequests) concurrent model calls")
        #expect(try await harness.pool.query("SELECT count(*) FROM answers WHERE status = 'answered'").singleRow().decode(Int.self, at: 0) == count + 1)
        #expect(try await harness.metric("kafka_consumer_rebalance_events_total") == rebalances, "the group never rebalanced")
        let peak = try #require(harness.ragChain.peakResidentBytes)
        #expect(peak < 256 << 20, "rag-chain peak RSS \(peak >> 20) MiB")
        try await eventually("every query committed") { try await harness.committedQueries() == Int64(count + 1) }
    }

    @Test("kill -9 of rag-chain and outbox-relay under load: one answers row per query, at least one rag.results record, one SSE result each")
    func killNineUnderLoad() async throws {
        let seed = UInt64.random(in: 0 ... 1_000_000)
        var random = SeededRandom(seed: seed)
        // 300 ms per model call keeps queries in flight when a kill lands.
        let controls = FakeModelServer.Controls(latencyMilliseconds: 300, faultEndpoints: [.chatCompletions], answerTemplate: Self.answerText)
        let harness = try await RagChainHarness(provider: .fake(controls), environment: Self.chatEnvironment, gatewayEnvironment: Self.gatewayEnvironment)
        try await harness.startRelay()
        try await harness.ingest(Self.chunks, tenant: "acme")
        let users = ["ann", "ben", "cid"]
        var subscribers: [String: SSESubscriber] = [:]
        var tokens: [String: String] = [:]
        for user in users {
            tokens[user] = try await harness.gateway.token(user, tier: "standard", tenant: "acme", scopes: [])
            subscribers[user] = try await SSESubscriber(harness.gateway, path: "/results", token: try #require(tokens[user]))
        }
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["question": Self.chunks[0].1]), as: UTF8.self)
        var asked: [String: [String]] = [:]  // user → query ids
        func askWave(_ size: Int) async throws {
            for index in 0..<size {
                let user = users[index % users.count]
                let response = try await harness.gateway.post("/queries", body, token: tokens[user])
                try #require(response.status == 202, "\(response.text)")
                asked[user, default: []].append(try #require(response.json["query_id"] as? String))
            }
        }
        func randomMoment() async throws { try await Task.sleep(for: .milliseconds(Int.random(in: 50 ... 1200, using: &random))) }

        // Each wave: queries posted, then a kill at a random moment while they are processed, then a restart.
        try await askWave(30)
        try await randomMoment()
        await harness.killRagChain()
        try await harness.startRagChain()

        try await askWave(30)
        try await randomMoment()
        await harness.killRelay()
        try await harness.startRelay()

        try await askWave(30)
        try await randomMoment()
        await harness.killRagChain()
        await harness.killRelay()
        try await harness.startRelay()
        try await harness.startRagChain()
        try await askWave(30)

        let queryIDs = asked.values.flatMap { $0 }
        try await eventually("every query answered (seed \(seed))", timeout: .seconds(180)) {
            try await harness.pool.query("SELECT count(*) FROM answers").singleRow().decode(Int.self, at: 0) >= queryIDs.count
        }
        let rows = try await harness.pool.query("SELECT query_id, count(*) FROM answers GROUP BY query_id")
        let perQuery = try Dictionary(uniqueKeysWithValues: rows.map { (try $0.decode(String.self, at: 0), try $0.decode(Int.self, at: 1)) })
        #expect(Set(perQuery.keys) == Set(queryIDs) && perQuery.values.allSatisfy { $0 == 1 }, "exactly one answers row per query (seed \(seed))")

        try await eventually("every query's result published (seed \(seed))", timeout: .seconds(120)) {
            try await harness.pool.query("SELECT count(*) FROM outbox WHERE published_at IS NULL").singleRow().decode(Int.self, at: 0) == 0
        }
        let published = try await harness.gateway.records(harness.gateway.topics.results,
                                                          count: Int(try await harness.gateway.recordCount(harness.gateway.topics.results)))
        #expect(Set(queryIDs).isSubset(of: Set(published.compactMap(\.keyString))), "at least one rag.results record per query (seed \(seed))")

        for user in users {
            let subscriber = try #require(subscribers[user])
            let expected = asked[user] ?? []
            try await subscriber.waitFor(expected.count, timeout: .seconds(90))
        }
        try await Task.sleep(for: .seconds(2))  // time for a duplicate to show up, if the gateway let one through
        for user in users {
            let received = try #require(subscribers[user]).events.filter { $0.event == "result" }.compactMap { Self.json($0.data)["query_id"] as? String }
            #expect(received.count == Set(received).count, "\(user): no result twice (seed \(seed)); \(received.count - Set(received).count) duplicates")
            #expect(Set(received) == Set(asked[user] ?? []), "\(user): every own result, nobody else's (seed \(seed))")
        }
        let duplicates = published.count - Set(published.compactMap(\.keyString)).count
        print("kill -9 under load (seed \(seed)): \(queryIDs.count) queries, \(published.count) rag.results records (\(duplicates) republished)")
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
