import FakeModelServer
import Foundation
import MetricsTestKit
import ModelClients
import Testing

/// The resilience wrapper around the OpenAI chat provider, against the real fake model server over real
/// HTTP with injected faults; and around an in-process scripted provider for the limits.
@Suite("ResilientChatProvider", .timeLimit(.minutes(1)))
struct ResilientChatProviderTests {
    typealias Support = ChatTestSupport

    private func resilient(
        _ configuration: OpenAIChatProvider.Configuration,
        _ resilience: ResilientChatProvider.Configuration,
        metrics: TestMetrics
    ) throws -> ResilientChatProvider {
        ResilientChatProvider(
            wrapping: try OpenAIChatProvider(configuration: configuration), configuration: resilience, metricsFactory: metrics,
            logger: Support.quietLogger)
    }

    private func quickRetries(_ maxAttempts: Int = 6) -> RetryPolicy {
        EmbeddingTestSupport.quickRetries(maxAttempts)
    }

    @Test("429 with Retry-After: the retry waits at least that long, then streams the answer")
    func retryAfterIsHonoured() async throws {
        try await Support.withFakeServer(.init(rate429: 1, retryAfterSeconds: 1)) { server, configuration in
            let metrics = TestMetrics()
            let provider = try resilient(configuration, .init(retry: quickRetries(5)), metrics: metrics)
            let deltas = DeltaRecorder()
            let start = ContinuousClock.now
            async let answer = provider.complete(Support.request("wait for me"), onDelta: deltas.onDelta)
            // Stop refusing once the first 429 went out; the retry must still wait for Retry-After.
            #expect(await EmbeddingTestSupport.eventually { server.stats.count(.rateLimited) == 1 })
            try server.updateControls { $0.rate429 = 0 }
            let completion = try await answer
            #expect(ContinuousClock.now - start >= .milliseconds(950))
            #expect(completion.text == Support.fakeAnswer(to: "wait for me"))
            // The 429 carried no text, so the successful retry streamed in full.
            #expect(deltas.joined == completion.text)
            #expect(server.stats.count(.rateLimited) == 1)
            #expect(server.stats.count(.ok) == 1)
            #expect(metrics.total("rag_chat_retries_total", [("reason", "rate_limited")]) == 1)
            #expect(metrics.total("rag_chat_calls_total", [("outcome", "rate_limited")]) == 1)
            #expect(metrics.total("rag_chat_calls_total", [("outcome", "success")]) == 1)
            #expect(metrics.total("rag_chat_completions_total") == 1)
            #expect(metrics.total("rag_chat_prompt_tokens_total") == Int64(completion.promptTokens))
            #expect(metrics.total("rag_chat_completion_tokens_total") == Int64(completion.completionTokens))
            #expect(completion.completionTokens == Support.words(completion.text))
            #expect(metrics.timerCount("rag_chat_call_duration_seconds") == 2)
        }
    }

    @Test("5xx are retried until the provider answers")
    func serverErrorsAreRetried() async throws {
        try await Support.withFakeServer(.init(retryAfterSeconds: nil, rate500: 1)) { server, configuration in
            let metrics = TestMetrics()
            let provider = try resilient(
                configuration, .init(retry: quickRetries(40), circuitBreaker: .init(failureThreshold: 100)), metrics: metrics)
            async let answer = provider.complete(Support.request("five hundred")) { _ in }
            #expect(await EmbeddingTestSupport.eventually { server.stats.count(.internalServerError) >= 2 })
            try server.updateControls { $0.rate500 = 0 }
            let completion = try await answer
            #expect(completion.text == Support.fakeAnswer(to: "five hundred"))
            let failures = server.stats.count(.internalServerError)
            #expect(server.stats.requests(.chatCompletions) == failures + 1)
            #expect(metrics.total("rag_chat_retries_total", [("reason", "unavailable")]) == Int64(failures))
            #expect(metrics.total("rag_chat_calls_total", [("outcome", "unavailable")]) == Int64(failures))
        }
    }

    @Test("a hang past the timeout is .timeout and retried; the retry answers")
    func hangTimesOutAndIsRetried() async throws {
        try await Support.withFakeServer(.init(rateHang: 1, hangSeconds: 20)) { server, base in
            var configuration = base
            // Long enough for a busy server to have taken the request before the client gives up.
            configuration.timeout = .seconds(2)
            let metrics = TestMetrics()
            let provider = try resilient(configuration, .init(retry: quickRetries(3)), metrics: metrics)
            let start = ContinuousClock.now
            async let answer = provider.complete(Support.request("hung once")) { _ in }
            #expect(await EmbeddingTestSupport.eventually { server.stats.count(.hang) == 1 })
            try server.updateControls { $0.rateHang = 0 }
            let completion = try await answer
            #expect(completion.text == Support.fakeAnswer(to: "hung once"))
            #expect(ContinuousClock.now - start >= .milliseconds(1900))
            #expect(server.stats.count(.hang) == 1)
            #expect(server.stats.count(.ok) == 1)
            #expect(metrics.total("rag_chat_calls_total", [("outcome", "timeout")]) == 1)
            #expect(metrics.total("rag_chat_retries_total", [("reason", "timeout")]) == 1)
        }
    }

    @Test("malformed streams are .malformedResponse and retried, then succeed; every time: gives up after max attempts")
    func malformedStreamsAreRetried() async throws {
        try await Support.withFakeServer(.init(rateMalformed: 1)) { server, configuration in
            let metrics = TestMetrics()
            let provider = try resilient(configuration, .init(retry: quickRetries(4)), metrics: metrics)
            let error = await Support.chatError { _ = try await provider.complete(Support.request("never well-formed")) { _ in } }
            #expect(error?.kind == .malformedResponse)
            #expect(error?.attempts == 4)
            #expect(server.stats.count(.malformed) == 4)
            #expect(metrics.total("rag_chat_retries_total", [("reason", "malformed_response")]) == 3)

            let patient = try resilient(
                configuration,
                .init(retry: RetryPolicy(maxAttempts: 40, baseDelay: .milliseconds(20), maxDelay: .milliseconds(50)),
                      circuitBreaker: .init(failureThreshold: 100)),
                metrics: TestMetrics())
            async let answer = patient.complete(Support.request("eventually well-formed")) { _ in }
            #expect(await EmbeddingTestSupport.eventually { server.stats.count(.malformed) >= 5 })
            try server.updateControls { $0.rateMalformed = 0 }
            #expect(try await answer.text == Support.fakeAnswer(to: "eventually well-formed"))
            #expect(server.stats.count(.ok) == 1)
        }
    }

    @Test("400: .rejected at once, no retries, exactly one call, not a breaker failure")
    func rejectedIsNotRetried() async throws {
        try await Support.withFakeServer(.init(failOnText: ["poison": 400])) { server, configuration in
            let metrics = TestMetrics()
            let provider = try resilient(
                configuration, .init(retry: quickRetries(6), circuitBreaker: .init(failureThreshold: 1)), metrics: metrics)
            let error = await Support.chatError { _ = try await provider.complete(Support.request("a poison question")) { _ in } }
            let rejected = try #require(error)
            #expect(rejected.kind == .rejected)
            #expect(rejected.status == 400)
            #expect(rejected.attempts == 1)
            #expect(server.stats.requests(.chatCompletions) == 1)
            #expect(metrics.total("rag_chat_retries_total") == 0)
            #expect(metrics.total("rag_chat_calls_total", [("outcome", "rejected")]) == 1)
            #expect(provider.circuitBreaker.state == .closed)
            _ = try await provider.complete(Support.request("a fine question")) { _ in }
        }
    }

    @Test("circuit breaker: opens after N failures and fails fast without calling; closes when the provider is back")
    func circuitOpensAndFailsFast() async throws {
        try await Support.withFakeServer(.init(rate503: 1)) { server, configuration in
            let metrics = TestMetrics()
            let resilience = ResilientChatProvider.Configuration(
                retry: RetryPolicy(maxAttempts: 1), circuitBreaker: .init(failureThreshold: 3, coolDown: .seconds(2)))
            let provider = try resilient(configuration, resilience, metrics: metrics)
            for _ in 0..<3 {
                let error = await Support.chatError { _ = try await provider.complete(Support.request("x")) { _ in } }
                #expect(error?.kind == .unavailable)
            }
            #expect(provider.circuitBreaker.state == .open)
            #expect(metrics.gauge("rag_chat_circuit_open") == 1)

            let fast = await Support.chatError { _ = try await provider.complete(Support.request("x")) { _ in } }
            #expect(fast?.kind == .circuitOpen)
            #expect(fast?.retryAfter.map { $0 > .zero && $0 <= .seconds(2) } == true)
            #expect(server.stats.requests(.chatCompletions) == 3)
            #expect(metrics.total("rag_chat_calls_total", [("outcome", "circuit_open")]) == 1)

            try server.updateControls { $0.rate503 = 0 }
            try await Task.sleep(for: .milliseconds(2100))
            let completion = try await provider.complete(Support.request("back again")) { _ in }
            #expect(completion.text == Support.fakeAnswer(to: "back again"))
            #expect(provider.circuitBreaker.state == .closed)
            #expect(metrics.gauge("rag_chat_circuit_open") == 0)
            #expect(server.stats.requests(.chatCompletions) == 4)
        }
    }

    @Test("only the first attempt's deltas are passed on: after a failure mid-stream the retry is not streamed")
    func onlyFirstAttemptIsStreamed() async throws {
        let question = "one two three four five six seven eight nine ten eleven twelve"
        let answer = Support.fakeAnswer(to: question)
        try await Support.withFakeServer(.init(tokenDelayMilliseconds: 1000)) { server, base in
            var configuration = base
            // The slow first stream (≈ 12 s) is cut after a few words; the fast retry has ample time even on a
            // loaded machine.
            configuration.timeout = .seconds(4)
            let metrics = TestMetrics()
            let provider = try resilient(configuration, .init(retry: quickRetries(3)), metrics: metrics)
            let deltas = DeltaRecorder()
            async let completion = provider.complete(Support.request(question), onDelta: deltas.onDelta)
            // Once the first attempt has streamed something, make the next one fast.
            #expect(await EmbeddingTestSupport.eventually { deltas.count >= 1 })
            try server.updateControls { $0.tokenDelayMilliseconds = 0 }
            let result = try await completion
            #expect(result.text == answer)
            #expect(server.stats.requests(.chatCompletions) == 2)
            #expect(metrics.total("rag_chat_retries_total", [("reason", "timeout")]) == 1)
            // The caller saw the first attempt's start only, never the retry's text.
            #expect(deltas.count >= 1)
            #expect(deltas.count < Support.words(answer))
            #expect(answer.hasPrefix(deltas.joined))
            #expect(deltas.joined != answer)
        }
    }

    @Test("200 concurrent calls against a 1 s model all complete, overlapping at the server")
    func manyConcurrentCalls() async throws {
        try await Support.withFakeServer(.init(latencyMilliseconds: 1000)) { server, configuration in
            let metrics = TestMetrics()
            let provider = try resilient(configuration, .init(retry: quickRetries(3)), metrics: metrics)
            // Sequential calls never overlap: the peak the server reports measures overlap.
            for index in 0..<2 { _ = try await provider.complete(Support.request("sequential \(index)")) { _ in } }
            #expect(server.stats.peakConcurrentRequests == 1)
            server.resetStats()

            let count = 200
            let texts = try await withThrowingTaskGroup(of: (Int, String, String).self) { group in
                for index in 0..<count {
                    group.addTask {
                        let deltas = DeltaRecorder()
                        let completion = try await provider.complete(Support.request("question number \(index)"), onDelta: deltas.onDelta)
                        return (index, completion.text, deltas.joined)
                    }
                }
                return try await group.reduce(into: [Int: (String, String)]()) { $0[$1.0] = ($1.1, $1.2) }
            }
            #expect(texts.count == count)
            for index in 0..<count {
                let expected = Support.fakeAnswer(to: "question number \(index)")
                #expect(texts[index]?.0 == expected)
                #expect(texts[index]?.1 == expected)
            }
            let stats = server.stats
            #expect(stats.count(.ok, on: .chatCompletions) == count)
            #expect(stats.requests(.chatCompletions) == count)
            // Far more than any small default limit: the calls were not serialised (or batched by 4, 16, 64).
            #expect(stats.peakConcurrentRequests >= 100, "peak \(stats.peakConcurrentRequests)")
            #expect(metrics.total("rag_chat_calls_total", [("outcome", "success")]) == Int64(count + 2))
            #expect(metrics.gauge("rag_chat_calls_in_flight") == 0)
        }
    }

    @Test("the rate limiter spaces calls by requests/min; tokens/min counts the prompt and max_tokens")
    func rateLimits() async throws {
        let inner = ScriptedChatProvider()
        let metrics = TestMetrics()
        let provider = ResilientChatProvider(
            wrapping: inner, configuration: .init(rateLimits: .init(requestsPerMinute: 600, burst: .zero)), metricsFactory: metrics)
        let start = ContinuousClock.now
        for _ in 0..<5 { _ = try await provider.complete(Support.request("x")) { _ in } }
        #expect(ContinuousClock.now - start >= .milliseconds(380))
        #expect((1...4).contains(metrics.timerCount("rag_chat_rate_limit_wait_seconds")))
        #expect(metrics.total("rag_chat_prompt_tokens_total") == 5 * 7)
        #expect(metrics.total("rag_chat_completion_tokens_total") == 5 * 3)

        let request = Support.request("twelve chars", maxTokens: 100)
        #expect(ResilientChatProvider.estimatedTokens(for: request) == ClientRateLimiter.estimatedTokens(for: request.messages.map(\.content)) + 100)
        // 6000 tokens/min (100/s), no burst: each call books its prompt and max_tokens (> 100 tokens), so two
        // calls take over 2 s; without max_tokens they would take about 0.1 s.
        let tokenLimited = ResilientChatProvider(
            wrapping: ScriptedChatProvider(), configuration: .init(rateLimits: .init(tokensPerMinute: 6000, burst: .zero)), metricsFactory: TestMetrics())
        let tokenStart = ContinuousClock.now
        for _ in 0..<2 { _ = try await tokenLimited.complete(request) { _ in } }
        #expect(ContinuousClock.now - tokenStart >= .seconds(2))
    }

    @Test("at most maxConcurrentCalls calls are in flight; a cancelled waiter leaves cleanly")
    func concurrencyLimit() async throws {
        let inner = ScriptedChatProvider(latency: .milliseconds(40))
        let provider = ResilientChatProvider(wrapping: inner, configuration: .init(maxConcurrentCalls: 3), metricsFactory: TestMetrics())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<12 {
                group.addTask { _ = try await provider.complete(Support.request("x")) { _ in } }
            }
            try await group.waitForAll()
        }
        #expect(inner.calls == 12)
        #expect(inner.maxInFlight == 3)

        let slow = ScriptedChatProvider(latency: .seconds(10))
        let limited = ResilientChatProvider(wrapping: slow, configuration: .init(maxConcurrentCalls: 1), metricsFactory: TestMetrics())
        let first = Task { await Support.chatError { _ = try await limited.complete(Support.request("a")) { _ in } } }
        await EmbeddingTestSupport.eventually { slow.calls == 1 }
        let second = Task { await Support.chatError { _ = try await limited.complete(Support.request("b")) { _ in } } }
        await EmbeddingTestSupport.eventually { limited.concurrencyLimiter.waiting == 1 }
        second.cancel()
        #expect(await second.value?.kind == .cancelled)
        first.cancel()
        #expect(await first.value?.kind == .cancelled)
        #expect(limited.concurrencyLimiter.inFlight == 0)
        #expect(slow.calls == 1)
    }

    @Test("the wrapper reports the wrapped provider's identity and labels its metrics with it; the default allows hundreds in flight")
    func identityAndDefaults() async throws {
        let metrics = TestMetrics()
        let provider = ResilientChatProvider(wrapping: ScriptedChatProvider(), metricsFactory: metrics)
        #expect(provider.model == "scripted-chat")
        #expect(provider.providerName == "scripted")
        #expect(provider.concurrencyLimiter.limit >= 256)
        let deltas = DeltaRecorder()
        let completion = try await provider.complete(Support.request("x"), onDelta: deltas.onDelta)
        #expect(deltas.texts == ["one", " two", " three"])
        #expect(completion.text == "one two three")
        #expect(metrics.total("rag_chat_calls_total", [("provider", "scripted"), ("model", "scripted-chat"), ("outcome", "success")]) == 1)
        let renamed = ResilientChatProvider(wrapping: ScriptedChatProvider(), configuration: .init(providerName: "sidecar"), metricsFactory: metrics)
        #expect(renamed.providerName == "sidecar")
    }
}
