import Auth
import Foundation
import Messaging
import TestSupport
import Testing

@Suite("Gateway: ingest and queries", .timeLimit(.minutes(3)))
struct GatewayIngestTests {
    @Test("a valid chunk and a valid query are 202 and land on their topics with the trusted headers from the token")
    func validRequests() async throws {
        let gateway = try await GatewayHarness()
        let token = try await gateway.token("alice", tier: "standard", tenant: "acme")

        let chunk = try await gateway.post("/chunks", #"{"doc_id":"handbook","seq":3,"text":"Vacation policy: 25 days.","visibility":"internal","metadata":{"lang":"en"}}"#,
                                           token: token, headers: [("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")])
        #expect(chunk.status == 202, "\(chunk.text)")
        #expect(chunk.json["doc_id"] as? String == "handbook")
        #expect(chunk.json["accepted"] as? Int == 1)
        let chunkIDs = try #require(chunk.json["chunk_ids"] as? [String])
        #expect(chunkIDs.count == 1 && chunkIDs[0].count == 64)

        let query = try await gateway.post("/queries", #"{"question":"How many vacation days?"}"#, token: token)
        #expect(query.status == 202, "\(query.text)")
        let queryID = try #require(query.json["query_id"] as? String)
        #expect(query.json["results_url"] as? String == "/results/\(queryID)")

        let chunkRecord = try #require(try await gateway.records(gateway.topics.chunks, count: 1).first)
        #expect(chunkRecord.keyString == "handbook")
        let chunkValue = try #require(try JSONSerialization.jsonObject(with: Data(chunkRecord.value ?? [])) as? [String: Any])
        #expect(chunkValue["doc_id"] as? String == "handbook" && chunkValue["seq"] as? Int == 3)
        #expect(chunkValue["visibility"] as? String == "internal" && chunkValue["text"] as? String == "Vacation policy: 25 days.")
        #expect((chunkValue["content_sha256"] as? String)?.count == 64)
        #expect(Set(chunkValue.keys) == ["doc_id", "seq", "text", "visibility", "metadata", "content_sha256"], "identity never in values")
        #expect(chunkRecord.headers.value("user-id") == "alice")
        #expect(chunkRecord.headers.value("user-tier") == "standard")
        #expect(chunkRecord.headers.value("tenant") == "acme")
        #expect(chunkRecord.headers.value("schema-version") != nil)
        #expect(chunkRecord.headers.value("request-id")?.isEmpty == false)
        let traceparent = try #require(chunkRecord.headers.value("traceparent"))
        #expect(traceparent.hasPrefix("00-0af7651916cd43dd8448eb211c80319c-"), "the trace continues: \(traceparent)")

        let queryRecord = try #require(try await gateway.records(gateway.topics.queries, count: 1).first)
        #expect(queryRecord.keyString == queryID)
        let queryValue = try #require(try JSONSerialization.jsonObject(with: Data(queryRecord.value ?? [])) as? [String: Any])
        #expect(queryValue["query_id"] as? String == queryID && queryValue["question"] as? String == "How many vacation days?")
        #expect(queryValue["top_k"] as? Int != nil && queryValue["stream"] as? Bool != nil, "defaults applied")
        #expect(queryRecord.headers.value("user-id") == "alice" && queryRecord.headers.value("tenant") == "acme")
        #expect(queryRecord.headers.value("user-tier") == "standard")
        #expect(queryRecord.headers.value("traceparent")?.hasPrefix("00-") == true)
    }

    @Test("a batch of chunks of one document is one record per chunk, all with the document as key")
    func batch() async throws {
        let gateway = try await GatewayHarness()
        let token = try await gateway.token(tier: "enterprise")
        let chunks = (0..<5).map { #"{"doc_id":"doc-b","seq":\#($0),"text":"part \#($0)","visibility":"confidential"}"# }
        let response = try await gateway.post("/chunks", #"{"chunks":[\#(chunks.joined(separator: ","))]}"#, token: token)
        #expect(response.status == 202, "\(response.text)")
        #expect(response.json["accepted"] as? Int == 5)
        let records = try await gateway.records(gateway.topics.chunks, count: 5)
        #expect(records.count == 5 && records.allSatisfy { $0.keyString == "doc-b" && $0.headers.value("user-tier") == "enterprise" })
        #expect(Set(records.map(\.partition)).count == 1, "one document, one partition: per-doc order")
    }

    @Test("malformed bodies are 400/413/415 problem+json naming each violation, and nothing is produced")
    func malformedBodies() async throws {
        let gateway = try await GatewayHarness()
        let token = try await gateway.token()
        let longText = String(repeating: "a", count: 40_000)
        let cases: [(body: String, contentType: String, status: Int, code: String, pointers: Set<String>)] = [
            (#"{"seq":0,"text":"t","visibility":"public"}"#, "application/json", 400, "schema_violation", ["/doc_id"]),
            (#"{"doc_id":7,"seq":"zero","text":"t","visibility":"public"}"#, "application/json", 400, "schema_violation", ["/doc_id", "/seq"]),
            (#"{"doc_id":"d","seq":0,"text":"t","visibility":"public","colour":"red"}"#, "application/json", 400, "schema_violation", ["/colour"]),
            (#"{"doc_id":"d","seq":0,"text":"\#(longText)","visibility":"public"}"#, "application/json", 400, "schema_violation", ["/text"]),
            (#"{"doc_id":"d","seq":0,"text":"t","visibility":"secret"}"#, "application/json", 400, "schema_violation", ["/visibility"]),
            (#"{"doc_id":"d","seq":0,"#, "application/json", 400, "invalid_json", []),
            (#"{"doc_id":"d","seq":0,"text":"t","visibility":"public"}"#, "text/plain", 415, "unsupported_media_type", []),
            (#"{"doc_id":"d","seq":0,"text":"\#(String(repeating: "b", count: 70_000))","visibility":"public"}"#, "application/json", 413, "body_too_large", []),
        ]
        for (index, testCase) in cases.enumerated() {
            let response = try await gateway.post("/chunks", testCase.body, token: token, contentType: testCase.contentType)
            #expect(response.status == testCase.status, "case \(index): \(response.text.prefix(300))")
            #expect(response.headers["content-type"] == "application/problem+json", "case \(index)")
            #expect(response.problemCode == testCase.code, "case \(index): \(response.text.prefix(300))")
            #expect(Set(response.violationPointers) == testCase.pointers, "case \(index): \(response.text.prefix(500))")
        }
        let badQueries: [(String, Set<String>)] = [
            (#"{}"#, ["/question"]), (#"{"question":""}"#, ["/question"]), (#"{"question":"q","top_k":0}"#, ["/top_k"]),
            (#"{"question":"q","stream":"yes","extra":1}"#, ["/stream", "/extra"]),
        ]
        for (body, pointers) in badQueries {
            let response = try await gateway.post("/queries", body, token: token)
            #expect(response.status == 400 && Set(response.violationPointers) == pointers, "\(body): \(response.text)")
        }
        #expect(try await gateway.recordCount(gateway.topics.chunks) == 0)
        #expect(try await gateway.recordCount(gateway.topics.queries) == 0)
    }

    @Test("client-sent identity headers and body fields are ignored: the record says what the token says")
    func forgedIdentity() async throws {
        let gateway = try await GatewayHarness()
        let token = try await gateway.token("alice", tier: "standard", tenant: "acme")
        let forged = [("user-tier", "enterprise"), ("user-id", "mallory"), ("tenant", "globex")]
        let chunk = try await gateway.post("/chunks", #"{"doc_id":"d","seq":0,"text":"t","visibility":"public","user_tier":"enterprise","tenant":"globex"}"#,
                                           token: token, headers: forged)
        #expect(chunk.status == 202, "\(chunk.text)")
        let query = try await gateway.post("/queries", #"{"question":"q","user_tier":"enterprise","user_id":"mallory"}"#, token: token, headers: forged)
        #expect(query.status == 202, "\(query.text)")
        for topic in [gateway.topics.chunks, gateway.topics.queries] {
            let record = try #require(try await gateway.records(topic, count: 1).first)
            #expect(record.headers.value("user-tier") == "standard" && record.headers.value("user-id") == "alice"
                    && record.headers.value("tenant") == "acme")
            #expect(record.headers.filter { $0.name == "user-tier" }.count == 1, "one user-tier header only")
            let text = String(decoding: record.value ?? [], as: UTF8.self)
            #expect(!text.contains("enterprise") && !text.contains("mallory") && !text.contains("globex"), "\(text)")
        }
    }

    @Test("Idempotency-Key: same key and body → same query_id and one record; another body → 409")
    func idempotency() async throws {
        let gateway = try await GatewayHarness()
        let token = try await gateway.token()
        let key = [("Idempotency-Key", "retry-\(UUID().uuidString)")]
        let first = try await gateway.post("/queries", #"{"question":"What is Kafka?"}"#, token: token, headers: key)
        let second = try await gateway.post("/queries", #"{ "question" : "What is Kafka?" }"#, token: token, headers: key)
        #expect(first.status == 202 && second.status == 202)
        #expect(first.json["query_id"] as? String == second.json["query_id"] as? String)
        let conflict = try await gateway.post("/queries", #"{"question":"Something else?"}"#, token: token, headers: key)
        #expect(conflict.status == 409 && conflict.problemCode == "idempotency_key_reused", "\(conflict.text)")
        // Another user with the same key is independent.
        let bob = try await gateway.post("/queries", #"{"question":"What is Kafka?"}"#, token: try await gateway.token("bob"), headers: key)
        #expect(bob.status == 202 && bob.json["query_id"] as? String != first.json["query_id"] as? String)
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await gateway.recordCount(gateway.topics.queries) == 2)
    }

    @Test("the per-user token bucket answers 429 with Retry-After once the burst is spent")
    func rateLimit() async throws {
        let gateway = try await GatewayHarness(environment: ["RAG_GATEWAY_RATE_LIMITS": "free=0.2/3;standard=1000/1000;enterprise=1000/1000"])
        let token = try await gateway.token("frank", tier: "free")
        var statuses: [Int] = []
        var limited: GatewayResponse?
        for _ in 0..<5 {
            let response = try await gateway.post("/queries", #"{"question":"q"}"#, token: token)
            statuses.append(response.status)
            if response.status == 429 { limited = response }
        }
        #expect(statuses == [202, 202, 202, 429, 429])
        let response = try #require(limited)
        #expect(response.problemCode == "rate_limited")
        #expect(Int(response.headers["retry-after"] ?? "") ?? 0 >= 1, "\(response.headers)")
        // Another user is not limited by frank's bucket.
        #expect(try await gateway.post("/queries", #"{"question":"q"}"#, token: try await gateway.token("grace", tier: "free")).status == 202)
    }

    @Test("broker down: 503 with Retry-After and nothing queued; after it returns the retry lands exactly once")
    func brokerDown() async throws {
        let gateway = try await GatewayHarness()
        let token = try await gateway.token()
        #expect(try await gateway.post("/queries", #"{"question":"before"}"#, token: token).status == 202)
        try await gateway.control("brokers/1/down")
        let refused = try await gateway.post("/queries", #"{"question":"during"}"#, token: token, headers: [("Idempotency-Key", "k-during")])
        #expect(refused.status == 503, "\(refused.text)")
        #expect(refused.problemCode == "broker_unavailable")
        #expect(refused.headers["retry-after"] != nil)
        try await gateway.control("brokers/1/up")
        var retried: GatewayResponse?
        try await eventually("the retry is accepted", timeout: .seconds(60)) {
            retried = try await gateway.post("/queries", #"{"question":"during"}"#, token: token, headers: [("Idempotency-Key", "k-during")])
            return retried?.status == 202
        }
        let records = try await gateway.records(gateway.topics.queries, count: 2)
        try await Task.sleep(for: .seconds(1))
        #expect(try await gateway.recordCount(gateway.topics.queries) == 2, "before + the one accepted retry")
        let questions = records.compactMap { String(decoding: $0.value ?? [], as: UTF8.self).contains("during") ? $0.keyString : nil }
        #expect(questions == [retried?.json["query_id"] as? String], "the queued query is the one answered 202")
    }
}
