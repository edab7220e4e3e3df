import FakeModelServer
import Foundation
import Testing

@Suite("POST /v1/chat/completions", .timeLimit(.minutes(2)))
struct ChatCompletionsEndpointTests {
    @Test("a non-streaming answer quotes the last user message, with word-count usage")
    func nonStreaming() async throws {
        try await withServer { server, target in
            let result = try await post(target, "/v1/chat/completions", chatBody("What is Kafka?", system: "Be brief."))
            #expect(result.status == 200)
            #expect(result.headers["content-type"] == "application/json")
            let reply = try ChatReply(result)
            #expect(reply.object == "chat.completion")
            #expect(reply.id.hasPrefix("chatcmpl-"))
            #expect(reply.model == "fake-chat")
            #expect(reply.created > 1_600_000_000)
            let choice = try #require(reply.choices.first)
            #expect(reply.choices.count == 1)
            #expect(choice.index == 0)
            #expect(choice.message.role == "assistant")
            #expect(choice.message.content == "This is a fake answer to: What is Kafka?")
            #expect(choice.finishReason == "stop")
            #expect(reply.usage.promptTokens == 5)
            #expect(reply.usage.completionTokens == 9)
            #expect(reply.usage.totalTokens == 14)

            let again = try ChatReply(try await post(target, "/v1/chat/completions", chatBody("What is Kafka?", system: "Be brief.")))
            #expect(again.choices[0].message.content == choice.message.content)
            #expect(server.stats.chatCalls["What is Kafka?"] == 2)
        }
    }

    @Test("canned answers, templates, JSON output and max_tokens")
    func answers() async throws {
        let controls = FakeModelServer.Controls(
            answerTemplate: "Answer: {question}",
            cannedAnswers: ["capital of France": #"{"answer":"Paris","citations":[1]}"#]
        )
        try await withServer(.init(controls: controls)) { _, target in
            let canned = try ChatReply(try await post(target, "/v1/chat/completions", chatBody("What is the capital of France?")))
            #expect(canned.choices[0].message.content == #"{"answer":"Paris","citations":[1]}"#)

            let templated = try ChatReply(try await post(target, "/v1/chat/completions", chatBody("Why?")))
            #expect(templated.choices[0].message.content == "Answer: Why?")

            let json = try ChatReply(
                try await post(target, "/v1/chat/completions", chatBody("Say \"hi\"", extra: #","response_format":{"type":"json_object"}"#))
            )
            let object = try JSONSerialization.jsonObject(with: Data(json.choices[0].message.content.utf8)) as? [String: String]
            #expect(object == ["answer": "Answer: Say \"hi\""])

            let cut = try ChatReply(try await post(target, "/v1/chat/completions", chatBody("one two three four", extra: #","max_tokens":3"#)))
            #expect(cut.choices[0].message.content == "Answer: one two")
            #expect(cut.choices[0].finishReason == "length")
            #expect(cut.usage.completionTokens == 3)
        }
    }

    @Test("a streamed answer arrives word by word as SSE chunks and ends with [DONE]")
    func streaming() async throws {
        let delay = 60.0
        try await withServer(.init(controls: .init(tokenDelayMilliseconds: delay))) { server, target in
            let question = "one two three four five"
            let expected = "This is a fake answer to: one two three four five"
            let result = try await post(target, "/v1/chat/completions", chatBody(question, extra: #","stream":true"#))
            #expect(result.status == 200)
            #expect(result.headers["content-type"] == "text/event-stream")

            let events = result.events
            #expect(events.last?.data == "[DONE]")
            let chunks = try events.dropLast().map { event in
                try #require(try JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any])
            }
            #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
            #expect(Set(chunks.compactMap { $0["id"] as? String }).count == 1)
            let choices = chunks.map { ($0["choices"] as? [[String: Any]])?.first }
            let deltas = choices.map { ($0?["delta"] as? [String: Any])?["content"] as? String }
            #expect((choices.first??["delta"] as? [String: Any])?["role"] as? String == "assistant")
            #expect(deltas.compactMap { $0 }.joined() == expected)
            #expect(choices.last??["finish_reason"] as? String == "stop")

            // One content event per word, paced by the token delay: they arrive spread out, not in one burst.
            let contentEvents = zip(events, deltas).filter { ($0.1 ?? "").isEmpty == false }.map(\.0)
            #expect(contentEvents.count == 11)
            let first = try #require(contentEvents.first).at
            let last = try #require(contentEvents.last).at
            #expect(last - first >= .milliseconds(Int(delay * 10 * 0.8)))
            let distinctArrivals = Set(contentEvents.map(\.at)).count
            #expect(distinctArrivals >= 8)
            #expect(result.pieces.count >= 8)
            #expect(server.stats.streamedCompletions == 1)
            #expect(server.stats.count(.ok, on: .chatCompletions) == 1)
        }
    }

    @Test("stream_options.include_usage adds a usage chunk before [DONE]")
    func streamingUsage() async throws {
        try await withServer { _, target in
            let result = try await post(target, "/v1/chat/completions", chatBody("hi there", extra: #","stream":true,"stream_options":{"include_usage":true}"#))
            let events = result.events
            #expect(events.last?.data == "[DONE]")
            let usageChunk = try #require(try JSONSerialization.jsonObject(with: Data(events[events.count - 2].data.utf8)) as? [String: Any])
            let usage = try #require(usageChunk["usage"] as? [String: Int])
            #expect(usage == ["prompt_tokens": 2, "completion_tokens": 8, "total_tokens": 10])
            #expect((usageChunk["choices"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("message content given as text parts is read like a string")
    func contentParts() async throws {
        try await withServer { _, target in
            let body = #"{"model":"fake-chat","messages":[{"role":"user","content":[{"type":"text","text":"part one"},{"type":"image_url","image_url":{"url":"x"}}]}]}"#
            let reply = try ChatReply(try await post(target, "/v1/chat/completions", body))
            #expect(reply.choices[0].message.content == "This is a fake answer to: part one")
        }
    }

    @Test("GET /v1/models lists the served models")
    func models() async throws {
        try await withServer(.init(embeddingModels: ["e1", "e2"], chatModels: ["c1"])) { server, target in
            let result = try await get(target, "/v1/models")
            #expect(result.status == 200)
            let object = try #require(result.jsonObject)
            #expect(object["object"] as? String == "list")
            let data = try #require(object["data"] as? [[String: Any]])
            #expect(data.compactMap { $0["id"] as? String } == ["e1", "e2", "c1"])
            #expect(data.allSatisfy { $0["object"] as? String == "model" })
            #expect(server.stats.requests(.models) == 1)
        }
    }
}
