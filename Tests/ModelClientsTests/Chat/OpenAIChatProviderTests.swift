import FakeModelServer
import Foundation
@testable import ModelClients
import Testing

/// The OpenAI-compatible chat provider against the real fake model server over real HTTP (one attempt
/// per call: no retries at this level), and against a scripted stream server for stream shapes the
/// fake server does not produce.
@Suite("OpenAIChatProvider", .timeLimit(.minutes(1)))
struct OpenAIChatProviderTests {
    typealias Support = ChatTestSupport

    @Test("streams over TCP: deltas arrive in order and join to the text; usage, model and finish reason from the provider")
    func happyPathOverTCP() async throws {
        try await Support.withFakeServer { server, configuration in
            let provider = try OpenAIChatProvider(configuration: configuration)
            #expect(provider.model == "fake-chat")
            #expect(provider.providerName == "openai")
            let question = "What does Kafka keep, and for how long?"
            let deltas = DeltaRecorder()
            let completion = try await provider.complete(Support.request(question), onDelta: deltas.onDelta)
            let answer = Support.fakeAnswer(to: question)
            #expect(completion.text == answer)
            #expect(deltas.joined == answer)
            // One piece per word, in order: the fake server's split.
            #expect(deltas.count == Support.words(answer))
            #expect(deltas.texts.first == "This")
            #expect(deltas.texts.last == " long?")
            #expect(completion.model == "fake-chat")
            #expect(completion.finishReason == "stop")
            // The server's usage chunk: words of every message, and one token per piece.
            #expect(completion.promptTokens == Support.words("Answer from the context.") + Support.words(question))
            #expect(completion.completionTokens == Support.words(answer))
            #expect(server.stats.streamedCompletions == 1)
            #expect(server.stats.requests(.chatCompletions) == 1)
        }
    }

    @Test("without a usage chunk the token counts are estimated")
    func usageEstimatedWhenAbsent() async throws {
        try await Support.withFakeServer { _, base in
            var configuration = base
            configuration.requestsUsage = false
            let provider = try OpenAIChatProvider(configuration: configuration)
            let request = Support.request("estimate me")
            let completion = try await provider.complete(request) { _ in }
            #expect(completion.text == Support.fakeAnswer(to: "estimate me"))
            #expect(completion.promptTokens == ClientRateLimiter.estimatedTokens(for: request.messages.map(\.content)))
            #expect(completion.completionTokens == ClientRateLimiter.estimatedTokens(for: completion.text))
            // The estimate differs from the fake server's word count, so the numbers did not come from it.
            #expect(completion.completionTokens != Support.words(completion.text))
        }
    }

    @Test("max_tokens is sent: the answer stops early with finish reason length")
    func maxTokensCutsTheAnswer() async throws {
        try await Support.withFakeServer { _, configuration in
            let provider = try OpenAIChatProvider(configuration: configuration)
            let deltas = DeltaRecorder()
            let completion = try await provider.complete(Support.request("a long question", maxTokens: 3), onDelta: deltas.onDelta)
            #expect(completion.text == "This is a")
            #expect(deltas.texts == ["This", " is", " a"])
            #expect(completion.finishReason == "length")
            #expect(completion.completionTokens == 3)
        }
    }

    @Test("deltas reach the caller while the server is still streaming the answer")
    func deltasArriveBeforeTheEnd() async throws {
        try await Support.withFakeServer(.init(tokenDelayMilliseconds: 40)) { server, base in
            var configuration = base
            configuration.timeout = .seconds(60)  // what is checked is when deltas arrive, not how fast
            let provider = try OpenAIChatProvider(configuration: configuration)
            // Each delta notes whether the server was still handling (writing) the request when it arrived.
            let deltas = DeltaRecorder { server.requestsInFlight }
            let completion = try await provider.complete(Support.request("one two three four five six"), onDelta: deltas.onDelta)
            #expect(deltas.joined == completion.text)
            #expect(deltas.count == Support.words(completion.text))
            // The first delta arrived with the rest of the answer still to be written.
            #expect(deltas.all.first?.probe == 1)
            #expect(await EmbeddingTestSupport.eventually { server.requestsInFlight == 0 })
        }
    }

    @Test("streams over a Unix domain socket (the sidecar pattern)")
    func unixSocketSidecar() async throws {
        let path = Support.socketPath()
        try await FakeModelServer.withRunningServer(configuration: .init(port: nil, unixSocketPath: path)) { server, endpoints in
            #expect(endpoints.unixSocketPath == path)
            let configuration = OpenAIChatProvider.Configuration(baseURL: "", model: Support.model, unixSocketPath: path)
            #expect(configuration.completionsURL == "http://localhost/v1/chat/completions")
            let provider = try OpenAIChatProvider(configuration: configuration)
            let deltas = DeltaRecorder()
            let completion = try await provider.complete(Support.request("over the socket"), onDelta: deltas.onDelta)
            #expect(completion.text == Support.fakeAnswer(to: "over the socket"))
            #expect(deltas.joined == completion.text)
            #expect(server.stats.streamedCompletions == 1)
        }
    }

    @Test("a missing Unix socket is `.connection`")
    func missingUnixSocket() async throws {
        let provider = try OpenAIChatProvider(configuration: .init(baseURL: "", model: "m", unixSocketPath: Support.socketPath()))
        let error = await Support.chatError { _ = try await provider.complete(Support.request("x")) { _ in } }
        #expect(error?.kind == .connection)
    }

    @Test("429 is `.rateLimited` with Retry-After; 500 and 503 are `.unavailable`; no delta is passed on")
    func statusClassification() async throws {
        try await Support.withFakeServer(.init(rate429: 1, retryAfterSeconds: 7)) { server, configuration in
            let provider = try OpenAIChatProvider(configuration: configuration)
            let deltas = DeltaRecorder()
            let limited = await Support.chatError { _ = try await provider.complete(Support.request("x"), onDelta: deltas.onDelta) }
            #expect(limited?.kind == .rateLimited)
            #expect(limited?.status == 429)
            #expect(limited?.retryAfter == .seconds(7))
            #expect(limited?.message.contains("rate_429") == true)

            try server.updateControls { $0.rate429 = 0; $0.rate500 = 1 }
            let failed = await Support.chatError { _ = try await provider.complete(Support.request("x"), onDelta: deltas.onDelta) }
            #expect(failed?.kind == .unavailable)
            #expect(failed?.status == 500)

            try server.updateControls { $0.rate500 = 0; $0.rate503 = 1 }
            let overloaded = await Support.chatError { _ = try await provider.complete(Support.request("x"), onDelta: deltas.onDelta) }
            #expect(overloaded?.kind == .unavailable)
            #expect(overloaded?.status == 503)
            #expect(overloaded?.retryAfter == .seconds(7))
            #expect(deltas.count == 0)
        }
    }

    @Test("a refused prompt (400) is `.rejected` with the server's message")
    func badRequestIsRejected() async throws {
        try await Support.withFakeServer(.init(failOnText: ["poison": 400])) { server, configuration in
            let provider = try OpenAIChatProvider(configuration: configuration)
            let error = await Support.chatError { _ = try await provider.complete(Support.request("a poison question")) { _ in } }
            let rejected = try #require(error)
            #expect(rejected.kind == .rejected)
            #expect(rejected.status == 400)
            #expect(rejected.isRetryable == false)
            #expect(rejected.message.contains("fail_on_text"))
            #expect(server.stats.requests(.chatCompletions) == 1)
        }
    }

    @Test("malformed streams (a cut JSON chunk, a chunk without choices) are `.malformedResponse`")
    func malformedStreams() async throws {
        for mode in [FakeModelServer.MalformedMode.invalidJSON, .missingField] {
            try await Support.withFakeServer(.init(rateMalformed: 1, malformedMode: mode)) { server, configuration in
                let provider = try OpenAIChatProvider(configuration: configuration)
                let deltas = DeltaRecorder()
                let error = await Support.chatError { _ = try await provider.complete(Support.request("x"), onDelta: deltas.onDelta) }
                #expect(error?.kind == .malformedResponse, "mode \(mode)")
                #expect(error?.isRetryable == true)
                #expect(deltas.count == 0, "mode \(mode)")
                #expect(server.stats.count(.malformed) == 1)
            }
        }
    }

    @Test("a request hanging past the timeout is `.timeout`")
    func hangIsTimeout() async throws {
        try await Support.withFakeServer(.init(rateHang: 1, hangSeconds: 10)) { server, base in
            var configuration = base
            // Long enough for a busy server to have taken the request before the client gives up.
            configuration.timeout = .seconds(2)
            let provider = try OpenAIChatProvider(configuration: configuration)
            let start = ContinuousClock.now
            let error = await Support.chatError { _ = try await provider.complete(Support.request("slow")) { _ in } }
            let elapsed = ContinuousClock.now - start
            #expect(error?.kind == .timeout)
            #expect(elapsed >= .milliseconds(1900))
            #expect(elapsed < .seconds(9), "the hang lasts 10 s; the timeout must end the call first")
            #expect(server.stats.count(.hang) == 1)
        }
    }

    @Test("a stream slower than the timeout is cut: `.timeout` after the first deltas")
    func slowStreamTimesOut() async throws {
        // Ten words at one per second against a 6 s timeout: the first word is due after 1 s, 5 s before the
        // timeout even on a loaded machine (a CI run with 3 s saw none), and the stream cannot finish in time.
        try await Support.withFakeServer(.init(tokenDelayMilliseconds: 1000)) { _, base in
            var configuration = base
            configuration.timeout = .seconds(6)
            let provider = try OpenAIChatProvider(configuration: configuration)
            let deltas = DeltaRecorder()
            let question = "one two three four five six seven eight nine ten"
            let error = await Support.chatError { _ = try await provider.complete(Support.request(question), onDelta: deltas.onDelta) }
            #expect(error?.kind == .timeout)
            #expect(deltas.count >= 1)
            #expect(deltas.count < Support.words(Support.fakeAnswer(to: question)))
            #expect(Support.fakeAnswer(to: question).hasPrefix(deltas.joined))
        }
    }

    @Test("connection refused is `.connection`")
    func connectionRefused() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let provider = try OpenAIChatProvider(configuration: .init(baseURL: "http://127.0.0.1:\(refusing.port)", model: "m", timeout: .seconds(5)))
        let error = await Support.chatError { _ = try await provider.complete(Support.request("x")) { _ in } }
        #expect(error?.kind == .connection)
        #expect(error?.isRetryable == true)
    }

    @Test("cancelling the caller mid-stream is `.cancelled`, promptly, and no delta follows")
    func cancellation() async throws {
        try await Support.withFakeServer(.init(tokenDelayMilliseconds: 1000)) { server, configuration in
            let provider = try OpenAIChatProvider(configuration: configuration)
            let deltas = DeltaRecorder()
            let task = Task { await Support.chatError { _ = try await provider.complete(Support.request("a b c d e f g h"), onDelta: deltas.onDelta) } }
            #expect(await EmbeddingTestSupport.eventually { deltas.count >= 1 })
            let start = ContinuousClock.now
            task.cancel()
            let error = await task.value
            let seen = deltas.count
            #expect(error?.kind == .cancelled)
            #expect(ContinuousClock.now - start < .seconds(8), "the answer takes 13 s; cancellation must end the call first")
            try await Task.sleep(for: .milliseconds(1100))
            #expect(deltas.count == seen)
            #expect(await EmbeddingTestSupport.eventually { server.requestsInFlight == 0 })
        }
    }

    @Test("the request: bearer key, extra headers, messages, stream with usage, max_tokens and temperature")
    func requestShape() async throws {
        let stream = #"data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}"# + "\n\ndata: [DONE]\n\n"
        try await ScriptedStreamServer.withServer(pieces: [Array(stream.utf8)]) { server in
            let provider = try OpenAIChatProvider(configuration: .init(
                baseURL: server.baseURL + "/v1/", model: "m", apiKey: "sk-test", extraHeaders: ["OpenAI-Organization": "org-1"]))
            let request = ChatRequest(
                messages: [.init(role: .system, content: "be brief"), .init(role: .user, content: "say \"ok\"")], maxTokens: 5, temperature: 0.25)
            let completion = try await provider.complete(request) { _ in }
            #expect(completion.text == "ok")
            #expect(completion.model == "m")
            let seen = try #require(server.lastRequest)
            #expect(seen.headers["authorization"] == "Bearer sk-test")
            #expect(seen.headers["openai-organization"] == "org-1")
            #expect(seen.headers["content-type"] == "application/json")
            #expect(seen.headers["accept"] == "text/event-stream")
            let body = try #require(try JSONSerialization.jsonObject(with: Data(seen.body)) as? [String: Any])
            #expect(body["model"] as? String == "m")
            #expect(body["stream"] as? Bool == true)
            #expect((body["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
            #expect(body["max_tokens"] as? Int == 5)
            #expect(body["temperature"] as? Double == 0.25)
            let messages = try #require(body["messages"] as? [[String: String]])
            #expect(messages == [["role": "system", "content": "be brief"], ["role": "user", "content": "say \"ok\""]])
        }
    }

    @Test("events split mid-JSON and mid-character, CRLF line ends, comments and a usage chunk, over HTTP")
    func awkwardStreamOverHTTP() async throws {
        let events =
            ": keep-alive\r\n\r\n"
            + #"data: {"model":"served-model","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"# + "\r\n\r\n"
            + #"data: {"choices":[{"index":0,"delta":{"content":"Grüße, "}}]}"# + "\r\n\r\n"
            + #"data: {"choices":[{"index":0,"delta":{"content":"東京"}}]}"# + "\n\n"
            + #"data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"# + "\r\r"
            + #"data: {"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}}"# + "\n\n"
            + "data: [DONE]\n\n"
        let bytes = Array(events.utf8)
        // Cut inside the comment, inside JSON, inside the multi-byte "ü" and "東", and between every CR and LF.
        let betweenCRAndLF = bytes.indices.filter { $0 > 0 && bytes[$0 - 1] == UInt8(ascii: "\r") && bytes[$0] == UInt8(ascii: "\n") }
        let cuts = [5, 60, bytes.firstIndex(of: 0xC3)! + 1, bytes.firstIndex(of: 0xE6)! + 2] + betweenCRAndLF
        var pieces: [[UInt8]] = []
        var start = 0
        for cut in cuts.sorted() where cut > start && cut < bytes.count {
            pieces.append(Array(bytes[start..<cut]))
            start = cut
        }
        pieces.append(Array(bytes[start...]))
        try await ScriptedStreamServer.withServer(pieces: pieces) { server in
            let provider = try OpenAIChatProvider(configuration: .init(baseURL: server.baseURL, model: "asked-model"))
            let deltas = DeltaRecorder()
            let completion = try await provider.complete(Support.request("x"), onDelta: deltas.onDelta)
            #expect(deltas.texts == ["Grüße, ", "東京"])
            #expect(completion == ChatCompletion(text: "Grüße, 東京", model: "served-model", promptTokens: 11, completionTokens: 3, finishReason: "stop"))
        }
    }

    @Test("a stream cut short (no [DONE]) is `.malformedResponse`, after the deltas it carried")
    func streamWithoutDone() async throws {
        let stream = #"data: {"choices":[{"index":0,"delta":{"content":"half an"}}]}"# + "\n\n"
        try await ScriptedStreamServer.withServer(pieces: [Array(stream.utf8)]) { server in
            let provider = try OpenAIChatProvider(configuration: .init(baseURL: server.baseURL, model: "m"))
            let deltas = DeltaRecorder()
            let error = await Support.chatError { _ = try await provider.complete(Support.request("x"), onDelta: deltas.onDelta) }
            #expect(error?.kind == .malformedResponse)
            #expect(error?.message.contains("[DONE]") == true)
            #expect(deltas.texts == ["half an"])
        }
    }

    @Test("an error inside the stream is `.unavailable` with the provider's message")
    func errorInsideTheStream() async throws {
        let stream = #"data: {"choices":[{"index":0,"delta":{"content":"partial"}}]}"# + "\n\n"
            + #"data: {"error":{"message":"engine crashed","type":"server_error"}}"# + "\n\n"
        try await ScriptedStreamServer.withServer(pieces: [Array(stream.utf8)]) { server in
            let provider = try OpenAIChatProvider(configuration: .init(baseURL: server.baseURL, model: "m"))
            let error = await Support.chatError { _ = try await provider.complete(Support.request("x")) { _ in } }
            #expect(error?.kind == .unavailable)
            #expect(error?.message.contains("engine crashed") == true)
        }
    }

    @Test("URL rule: /v1/chat/completions under the root, /chat/completions under a root ending in /v1")
    func urlRule() {
        func url(_ base: String) -> String {
            OpenAIChatProvider.Configuration(baseURL: base, model: "m").completionsURL
        }
        #expect(url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1/chat/completions")
        #expect(url("http://127.0.0.1:11434/v1/") == "http://127.0.0.1:11434/v1/chat/completions")
        #expect(url("https://gateway.example/openai") == "https://gateway.example/openai/v1/chat/completions")
    }

    @Test("invalid configurations are refused with every problem listed; an empty chat makes no request")
    func invalidConfiguration() async throws {
        #expect(throws: OpenAIChatProvider.InvalidConfiguration.self) {
            _ = try OpenAIChatProvider(configuration: .init(baseURL: "", model: ""))
        }
        let problems = OpenAIChatProvider.Configuration(baseURL: "ftp://x", model: "", timeout: .zero, maxConcurrentRequests: 0).problems
        #expect(problems.count == 4)
        try await Support.withFakeServer { server, configuration in
            let provider = try OpenAIChatProvider(configuration: configuration)
            let error = await Support.chatError { _ = try await provider.complete(ChatRequest(messages: [])) { _ in } }
            #expect(error?.kind == .rejected)
            #expect(server.stats.requests(.chatCompletions) == 0)
        }
    }
}
