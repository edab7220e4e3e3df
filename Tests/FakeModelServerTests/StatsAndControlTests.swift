import FakeModelServer
import Foundation
import Testing

@Suite("GET /stats and /control", .timeLimit(.minutes(2)))
struct StatsAndControlTests {
    @Test("/stats counts requests per endpoint and outcome, texts embedded and per-text calls; reset zeroes it")
    func stats() async throws {
        try await withServer(.init(controls: .init(failOnText: ["BAD": 400]))) { server, target in
            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["a b", "c"])).status == 200)
            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["a b"])).status == 200)
            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["BAD text"])).status == 400)
            #expect(try await post(target, "/v1/chat/completions", chatBody("question one")).status == 200)
            #expect(try await post(target, "/v1/chat/completions", chatBody("question one", extra: #","stream":true"#)).status == 200)
            #expect(try await get(target, "/v1/models").status == 200)

            let result = try await get(target, "/stats")
            #expect(result.status == 200)
            let json = try #require(result.jsonObject)
            #expect(json["requests"] as? [String: Int] == ["embeddings": 3, "chat_completions": 2, "models": 1])
            #expect(json["outcomes"] as? [String: Int] == ["ok": 4, "rejected": 1])
            #expect(json["text_calls"] as? [String: Int] == ["a b": 2, "c": 1, "BAD text": 1])
            #expect(json["chat_calls"] as? [String: Int] == ["question one": 2])
            #expect(json["embedding_inputs"] as? Int == 4)
            #expect(json["embedded_texts"] as? Int == 3)
            #expect(json["streamed_completions"] as? Int == 1)
            let byEndpoint = try #require(json["outcomes_by_endpoint"] as? [String: [String: Int]])
            #expect(byEndpoint["embeddings"] == ["ok": 2, "rejected": 1])
            #expect(byEndpoint["chat_completions"] == ["ok": 2])

            // The in-process API tells the same story.
            let stats = server.stats
            #expect(stats == (try JSONDecoder().decode(FakeModelServer.Stats.self, from: Data(result.body))))
            #expect(stats.requests(.embeddings) == 3)
            #expect(stats.calls(forText: "a b") == 2)
            #expect(stats.calls(forText: "never sent") == 0)
            #expect(stats.chatCalls(containing: "question") == 2)
            #expect(stats.promptTokens == 3 + 2 + 2 * 2)
            #expect(stats.completionTokens == 2 * 8)

            let reset = try await post(target, "/stats/reset", "{}")
            #expect(reset.status == 200)
            #expect(server.stats == FakeModelServer.Stats())
            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["c"])).status == 200)
            #expect(server.stats.textCalls == ["c": 1])
            server.resetStats()
            #expect(server.stats.embeddingInputs == 0)
        }
    }

    @Test("/control reads and changes the controls at run time")
    func control() async throws {
        try await withServer { server, target in
            let initial = try #require(try await get(target, "/control").jsonObject)
            #expect(initial["rate_429"] as? Double == 0)
            #expect(initial["retry_after_seconds"] as? Int == 1)
            #expect(initial["hang_seconds"] as? Double == 30)
            #expect(initial["fault_endpoints"] as? [String] == ["chat_completions", "embeddings"])
            #expect(initial["tokens_per_second"] is NSNull)

            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["x"])).status == 200)
            let changed = try await post(target, "/control", #"{"rate_503":1,"tokens_per_second":20,"fail_on_text":{"NOPE":403}}"#)
            #expect(changed.status == 200)
            let json = try #require(changed.jsonObject)
            #expect(json["rate_503"] as? Double == 1)
            #expect(json["token_delay_ms"] as? Double == 50)
            #expect(server.controls.rate503 == 1)
            #expect(server.controls.failOnText == ["NOPE": 403])
            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["x"])).status == 503)
            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["NOPE"])).status == 403)

            // Invalid changes are refused whole, naming the problem; nothing changes.
            let invalid = try await post(target, "/control", #"{"rate_503":0,"rate_429":1.5}"#)
            #expect(invalid.status == 400)
            #expect(try ErrorReply(invalid).error.message.contains("rate_429"))
            #expect(server.controls.rate503 == 1)
            let unknown = try await post(target, "/control", #"{"rate429":0.5}"#)
            #expect(unknown.status == 400)
            #expect(try ErrorReply(unknown).error.message.contains("rate429"))
            #expect(try await post(target, "/control", #"{"fail_on_text":{"x":200}}"#).status == 400)
            #expect(try await post(target, "/control", "not json").status == 400)

            // reset restores the start-up controls (and may be combined with changes).
            let reset = try await post(target, "/control", #"{"reset":true,"latency_ms":5}"#)
            #expect(reset.status == 200)
            #expect(server.controls == FakeModelServer.Controls(latencyMilliseconds: 5))
            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["x"])).status == 200)
            #expect(try await post(target, "/control/reset", "").status == 200)
            #expect(server.controls == FakeModelServer.Controls())

            // The in-process API validates too.
            #expect(throws: FakeModelServer.InvalidControls.self) {
                try server.updateControls { $0.hangSeconds = -1 }
            }
            #expect(server.controls.hangSeconds == 30)
            try server.updateControls { $0.rate500 = 1 }
            #expect(try await post(target, "/v1/chat/completions", chatBody("x")).status == 500)
            server.resetControls()
            #expect(try await post(target, "/v1/chat/completions", chatBody("x")).status == 200)
        }
    }
}
