import FakeModelServer
import Foundation
import MetricsTestKit
import ModelClients
import Synchronization
import Testing

/// The resilience wrapper around the OpenAI provider, against the real fake model server over real
/// HTTP with injected faults; and around an in-process scripted provider for the limits.
@Suite("ResilientEmbeddingProvider", .timeLimit(.minutes(1)))
struct ResilientEmbeddingProviderTests {
    typealias Support = EmbeddingTestSupport

    private func resilient(
        _ configuration: OpenAIEmbeddingProvider.Configuration,
        _ resilience: ResilientEmbeddingProvider.Configuration,
        metrics: TestMetrics
    ) throws -> ResilientEmbeddingProvider {
        ResilientEmbeddingProvider(
            wrapping: try OpenAIEmbeddingProvider(configuration: configuration), configuration: resilience, metricsFactory: metrics,
            logger: Support.quietLogger)
    }

    @Test("429 with Retry-After: the retry waits at least that long, then succeeds")
    func retryAfterIsHonoured() async throws {
        try await Support.withFakeServer(.init(rate429: 1, retryAfterSeconds: 1)) { server, configuration in
            let metrics = TestMetrics()
            let provider = try resilient(configuration, .init(retry: Support.quickRetries(5)), metrics: metrics)
            let start = ContinuousClock.now
            async let vectors = provider.embed(["wait for me"])
            // Stop refusing once the first 429 went out; the retry must still wait for Retry-After.
            #expect(await Support.eventually { server.stats.count(.rateLimited) == 1 })
            try server.updateControls { $0.rate429 = 0 }
            let result = try await vectors
            let elapsed = ContinuousClock.now - start
            #expect(Support.isFakeVector(result[0], for: "wait for me"))
            #expect(elapsed >= .milliseconds(950), "waited only \(elapsed)")
            #expect(server.stats.count(.rateLimited) == 1)
            #expect(server.stats.count(.ok) == 1)
            #expect(metrics.total("rag_embedding_retries_total", [("reason", "rate_limited")]) == 1)
            #expect(metrics.total("rag_embedding_calls_total", [("outcome", "rate_limited")]) == 1)
            #expect(metrics.total("rag_embedding_calls_total", [("outcome", "success")]) == 1)
        }
    }

    @Test("30% 429 + 10% 500: every batch succeeds exactly once, retries are counted")
    func flakyProviderEmbedsEverythingOnce() async throws {
        let controls = FakeModelServer.Controls(rate429: 0.3, retryAfterSeconds: 0, rate500: 0.1, seed: 2024)
        try await Support.withFakeServer(controls) { server, configuration in
            let metrics = TestMetrics()
            let resilience = ResilientEmbeddingProvider.Configuration(
                retry: Support.quickRetries(20),
                circuitBreaker: .init(failureThreshold: 50, coolDown: .milliseconds(100)),
                maxConcurrentCalls: 4)
            let provider = try resilient(configuration, resilience, metrics: metrics)
            let texts = Support.texts(60, prefix: "flaky")
            let batches = stride(from: 0, to: texts.count, by: 4).map { Array(texts[$0..<min($0 + 4, texts.count)]) }
            let results = try await withThrowingTaskGroup(of: ([String], [[Float]]).self) { group in
                for batch in batches {
                    group.addTask { (batch, try await provider.embed(batch)) }
                }
                return try await group.reduce(into: [([String], [[Float]])]()) { $0.append($1) }
            }
            #expect(results.count == batches.count)
            for (batch, vectors) in results {
                #expect(zip(batch, vectors).allSatisfy { Support.isFakeVector($1, for: $0) })
            }
            let stats = server.stats
            let requests = stats.requests(.embeddings)
            let failed = stats.count(.rateLimited) + stats.count(.internalServerError)
            // Each batch was answered successfully exactly once; the rest were the injected faults.
            #expect(stats.count(.ok) == batches.count)
            #expect(stats.embeddedTexts == texts.count)
            #expect(requests == batches.count + failed)
            #expect(failed > 0, "the seeded faults should hit some calls")
            #expect(texts.allSatisfy { stats.calls(forText: $0) >= 1 })
            // Every failed call was retried, and counted by reason.
            #expect(metrics.total("rag_embedding_retries_total") == Int64(failed))
            #expect(metrics.total("rag_embedding_retries_total", [("reason", "rate_limited")]) == Int64(stats.count(.rateLimited)))
            #expect(metrics.total("rag_embedding_retries_total", [("reason", "unavailable")]) == Int64(stats.count(.internalServerError)))
            #expect(metrics.total("rag_embedding_calls_total", [("outcome", "success")]) == Int64(batches.count))
            #expect(metrics.total("rag_embedding_texts_total") == Int64(texts.count))
            #expect(metrics.timerCount("rag_embedding_call_duration_seconds") == requests)
        }
    }

    @Test("400 for one text: .rejected at once, no retries, exactly one call")
    func rejectedIsNotRetried() async throws {
        try await Support.withFakeServer(.init(failOnText: ["poison": 400])) { server, configuration in
            let metrics = TestMetrics()
            let provider = try resilient(
                configuration, .init(retry: Support.quickRetries(6), circuitBreaker: .init(failureThreshold: 1)), metrics: metrics)
            let error = await Support.embeddingError { _ = try await provider.embed(["good", "very poison text", "fine"]) }
            let rejected = try #require(error)
            #expect(rejected.kind == .rejected)
            #expect(rejected.status == 400)
            #expect(rejected.attempts == 1)
            #expect(rejected.message.contains("poison"))
            #expect(server.stats.requests(.embeddings) == 1)
            #expect(metrics.total("rag_embedding_retries_total") == 0)
            #expect(metrics.total("rag_embedding_calls_total", [("outcome", "rejected")]) == 1)
            // Not a breaker failure, even with a threshold of 1.
            #expect(provider.circuitBreaker.state == .closed)
            _ = try await provider.embed(["good"])
        }
    }

    @Test("malformed answers are retried, then succeed")
    func malformedThenSuccess() async throws {
        try await Support.withFakeServer(.init(rateMalformed: 1)) { server, configuration in
            let metrics = TestMetrics()
            let provider = try resilient(configuration, .init(retry: Support.quickRetries(30, base: .milliseconds(20))), metrics: metrics)
            async let vectors = provider.embed(["eventually well-formed"])
            #expect(await Support.eventually { server.stats.count(.malformed) >= 1 })
            try server.updateControls { $0.rateMalformed = 0 }
            let result = try await vectors
            #expect(Support.isFakeVector(result[0], for: "eventually well-formed"))
            #expect(server.stats.count(.ok) == 1)
            #expect(metrics.total("rag_embedding_retries_total", [("reason", "malformed_response")]) == Int64(server.stats.count(.malformed)))
        }
    }

    @Test("malformed answers every time: gives up with .malformedResponse after max attempts")
    func malformedGivesUp() async throws {
        try await Support.withFakeServer(.init(rateMalformed: 1)) { server, configuration in
            let metrics = TestMetrics()
            let provider = try resilient(configuration, .init(retry: Support.quickRetries(4)), metrics: metrics)
            let error = await Support.embeddingError { _ = try await provider.embed(["never well-formed"]) }
            #expect(error?.kind == .malformedResponse)
            #expect(error?.attempts == 4)
            #expect(server.stats.requests(.embeddings) == 4)
            #expect(metrics.total("rag_embedding_retries_total") == 3)
        }
    }

    @Test("a hang past the timeout is .timeout, after the attempts")
    func hangIsTimeout() async throws {
        try await Support.withFakeServer(.init(rateHang: 1, hangSeconds: 10)) { server, base in
            var configuration = base
            // Long enough for a busy server to have taken each request before the client gives up.
            configuration.timeout = .seconds(2)
            let metrics = TestMetrics()
            let provider = try resilient(configuration, .init(retry: Support.quickRetries(2)), metrics: metrics)
            let start = ContinuousClock.now
            let error = await Support.embeddingError { _ = try await provider.embed(["slow"]) }
            #expect(error?.kind == .timeout)
            #expect(error?.attempts == 2)
            // Two hangs waited out in full would take 20 s.
            #expect(ContinuousClock.now - start < .seconds(15))
            #expect(server.stats.count(.hang) == 2)
            #expect(metrics.total("rag_embedding_calls_total", [("outcome", "timeout")]) == 2)
        }
    }

    @Test("connection refused is .connection, retried up to the limit")
    func connectionRefused() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let metrics = TestMetrics()
        let provider = try resilient(
            .init(baseURL: "http://127.0.0.1:\(refusing.port)", model: "m", dimensions: 8),
            .init(retry: Support.quickRetries(3)), metrics: metrics)
        let error = await Support.embeddingError { _ = try await provider.embed(["x"]) }
        #expect(error?.kind == .connection)
        #expect(error?.attempts == 3)
        #expect(metrics.total("rag_embedding_retries_total", [("reason", "connection")]) == 2)
    }

    @Test("circuit breaker: opens after N failures and fails fast; half-open trial; closes on success")
    func circuitBreakerCycle() async throws {
        try await Support.withFakeServer(.init(rate500: 1)) { server, configuration in
            let metrics = TestMetrics()
            let resilience = ResilientEmbeddingProvider.Configuration(
                retry: RetryPolicy(maxAttempts: 1), circuitBreaker: .init(failureThreshold: 3, coolDown: .seconds(3)))
            let provider = try resilient(configuration, resilience, metrics: metrics)
            for _ in 0..<3 {
                let error = await Support.embeddingError { _ = try await provider.embed(["x"]) }
                #expect(error?.kind == .unavailable)
            }
            #expect(provider.circuitBreaker.state == .open)
            #expect(metrics.gauge("rag_embedding_circuit_open") == 1)

            // Open: fails fast, the server sees nothing.
            let fast = await Support.embeddingError { _ = try await provider.embed(["x"]) }
            #expect(fast?.kind == .circuitOpen)
            #expect(fast?.retryAfter.map { $0 > .zero && $0 <= .seconds(3) } == true)
            #expect(server.stats.requests(.embeddings) == 3)
            #expect(metrics.total("rag_embedding_calls_total", [("outcome", "circuit_open")]) == 1)

            // After the cool-down a failing trial opens it again.
            try await Task.sleep(for: .milliseconds(3100))
            let trial = await Support.embeddingError { _ = try await provider.embed(["x"]) }
            #expect(trial?.kind == .unavailable)
            #expect(server.stats.requests(.embeddings) == 4)
            #expect(provider.circuitBreaker.state == .open)

            // The provider recovers: the next trial closes the circuit.
            try server.updateControls { $0.rate500 = 0 }
            try await Task.sleep(for: .milliseconds(3100))
            let vectors = try await provider.embed(["back again"])
            #expect(Support.isFakeVector(vectors[0], for: "back again"))
            #expect(provider.circuitBreaker.state == .closed)
            #expect(metrics.gauge("rag_embedding_circuit_open") == 0)
            _ = try await provider.embed(["and again"])
            #expect(server.stats.requests(.embeddings) == 6)
        }
    }

    @Test("retries wait out an open circuit and succeed once the provider is back")
    func retriesWaitOutTheCoolDown() async throws {
        try await Support.withFakeServer(.init(retryAfterSeconds: nil, rate503: 1)) { server, configuration in
            let metrics = TestMetrics()
            let resilience = ResilientEmbeddingProvider.Configuration(
                retry: Support.quickRetries(8), circuitBreaker: .init(failureThreshold: 2, coolDown: .seconds(2)))
            let provider = try resilient(configuration, resilience, metrics: metrics)
            let start = ContinuousClock.now
            async let vectors = provider.embed(["patience"])
            // The provider stays down until the open circuit has refused a retry without calling it.
            // (On a loaded machine a backoff may outlast the cool-down, so a failing trial may come
            // first and open the circuit again; the test holds either way.)
            #expect(await Support.eventually(timeout: .seconds(30)) { metrics.total("rag_embedding_retries_total", [("reason", "circuit_open")]) >= 1 })
            try server.updateControls { $0.rate503 = 0 }
            let result = try await vectors
            #expect(Support.isFakeVector(result[0], for: "patience"))
            #expect(ContinuousClock.now - start >= .milliseconds(1950))
            // Every call the server saw failed but the last; the refusals by the open circuit cost none.
            let stats = server.stats
            #expect(stats.count(.ok) == 1)
            #expect(stats.count(.serviceUnavailable) >= 2)
            #expect(stats.requests(.embeddings) == stats.count(.serviceUnavailable) + 1)
            #expect(metrics.total("rag_embedding_calls_total", [("outcome", "circuit_open")]) >= 1)
            #expect(provider.circuitBreaker.state == .closed)
        }
    }

    @Test("the rate limiter spaces calls and its waits are measured")
    func rateLimited() async throws {
        let inner = ScriptedProvider()
        let metrics = TestMetrics()
        let provider = ResilientEmbeddingProvider(
            wrapping: inner, configuration: .init(rateLimits: .init(requestsPerMinute: 600, burst: .zero)), metricsFactory: metrics)
        let start = ContinuousClock.now
        for _ in 0..<5 { _ = try await provider.embed(["x"]) }
        #expect(ContinuousClock.now - start >= .milliseconds(380))
        // Up to 4 waits (a caller that wakes late may find its slot already due).
        #expect((1...4).contains(metrics.timerCount("rag_embedding_rate_limit_wait_seconds")))
        #expect(metrics.total("rag_embedding_tokens_total") == 5)
    }

    @Test("at most maxConcurrentCalls calls are in flight; cancelled waiters leave cleanly")
    func concurrencyLimit() async throws {
        let inner = ScriptedProvider(latency: .milliseconds(40))
        let provider = ResilientEmbeddingProvider(
            wrapping: inner, configuration: .init(maxConcurrentCalls: 2), metricsFactory: TestMetrics())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 {
                group.addTask { _ = try await provider.embed(["x"]) }
            }
            try await group.waitForAll()
        }
        #expect(inner.calls == 10)
        #expect(inner.maxInFlight == 2)

        let slow = ScriptedProvider(latency: .seconds(10))
        let limited = ResilientEmbeddingProvider(wrapping: slow, configuration: .init(maxConcurrentCalls: 1), metricsFactory: TestMetrics())
        let first = Task { await Support.embeddingError { _ = try await limited.embed(["a"]) } }
        await Support.eventually { slow.calls == 1 }
        let second = Task { await Support.embeddingError { _ = try await limited.embed(["b"]) } }
        await Support.eventually { limited.concurrencyLimiter.waiting == 1 }
        second.cancel()
        #expect(await second.value?.kind == .cancelled)
        #expect(limited.concurrencyLimiter.waiting == 0)
        first.cancel()
        #expect(await first.value?.kind == .cancelled)
        #expect(limited.concurrencyLimiter.inFlight == 0)
        #expect(slow.calls == 1)
    }

    @Test("answers of the wrong shape from the wrapped provider are malformed")
    func validatesWrappedAnswers() async throws {
        let provider = ResilientEmbeddingProvider(
            wrapping: ShortAnswers(), configuration: .init(retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(1))), metricsFactory: TestMetrics())
        #expect(provider.providerName == "custom")
        let error = await Support.embeddingError { _ = try await provider.embed(["a", "b"]) }
        #expect(error?.kind == .malformedResponse)
        #expect(error?.attempts == 2)
    }

    @Test("the wrapper reports the wrapped provider's identity and labels its metrics with it")
    func identityAndLabels() async throws {
        let metrics = TestMetrics()
        let provider = ResilientEmbeddingProvider(wrapping: ScriptedProvider(), metricsFactory: metrics)
        #expect(provider.model == "scripted")
        #expect(provider.dimensions == 4)
        #expect(provider.maxBatchSize == 16)
        #expect(provider.providerName == "scripted")
        _ = try await provider.embed(["a", "b"])
        #expect(metrics.total("rag_embedding_calls_total", [("provider", "scripted"), ("model", "scripted"), ("outcome", "success")]) == 1)
        #expect(try await provider.embed([]).isEmpty)
        #expect(metrics.total("rag_embedding_calls_total", [("outcome", "success")]) == 1)
    }
}

/// A provider whose answers have the wrong shape (one vector of 2 numbers, whatever is asked).
private final class ShortAnswers: EmbeddingProvider {
    let model = "short"
    let dimensions = 3
    let maxBatchSize = 8
    func embed(_ texts: [String]) async throws(ModelCallError) -> [[Float]] { [[1, 0]] }
}

extension TestMetrics {
    /// The sum of the counters named `label` whose dimensions include `dimensions`.
    func total(_ label: String, _ dimensions: [(String, String)] = []) -> Int64 {
        counterTotal(label: label, dimensions: dimensions)
    }

    /// The last value of the gauge named `label`.
    func gauge(_ label: String) -> Double? {
        recorders(label: label).first?.lastValue
    }

    /// How many durations the timers named `label` recorded, over all dimensions.
    func timerCount(_ label: String) -> Int {
        timers(label: label).reduce(0) { $0 + $1.values.count }
    }
}
