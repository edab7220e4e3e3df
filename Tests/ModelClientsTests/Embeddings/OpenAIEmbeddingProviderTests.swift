import FakeModelServer
import Foundation
@testable import ModelClients
import Testing

/// The OpenAI-compatible provider against the real fake model server over real HTTP (one attempt
/// per call: no retries at this level).
@Suite("OpenAIEmbeddingProvider", .timeLimit(.minutes(1)))
struct OpenAIEmbeddingProviderTests {
    typealias Support = EmbeddingTestSupport

    @Test("embeds over TCP: one unit vector per text, the server's vectors, in order")
    func happyPathOverTCP() async throws {
        try await Support.withFakeServer { server, configuration in
            let provider = try OpenAIEmbeddingProvider(configuration: configuration)
            #expect(provider.model == "fake-embedding")
            #expect(provider.dimensions == 384)
            #expect(provider.providerName == "openai")
            let texts = ["The cat sat on the mat.", "Kafka keeps the log.", "ünïcödé → 東京"]
            let vectors = try await provider.embed(texts)
            #expect(vectors.count == 3)
            for (text, vector) in zip(texts, vectors) {
                #expect(vector.count == 384)
                #expect(Support.isFakeVector(vector, for: text))
                #expect(abs(Support.norm(vector) - 1) < 1e-5)
            }
            #expect(server.stats.requests(.embeddings) == 1)
            #expect(server.stats.embeddingInputs == 3)
        }
    }

    @Test("embeds over a Unix domain socket (the sidecar pattern)")
    func happyPathOverUnixSocket() async throws {
        let path = Support.socketPath()
        let serverConfiguration = FakeModelServer.Configuration(port: nil, unixSocketPath: path)
        try await FakeModelServer.withRunningServer(configuration: serverConfiguration) { server, endpoints in
            #expect(endpoints.unixSocketPath == path)
            let configuration = OpenAIEmbeddingProvider.Configuration(
                baseURL: "", model: Support.model, dimensions: Support.dimensions, unixSocketPath: path)
            #expect(configuration.embeddingsURL == "http://localhost/v1/embeddings")
            let provider = try OpenAIEmbeddingProvider(configuration: configuration)
            let texts = Support.texts(5, prefix: "uds")
            let vectors = try await provider.embed(texts)
            #expect(vectors.count == 5)
            #expect(zip(texts, vectors).allSatisfy { Support.isFakeVector($1, for: $0) })
            #expect(server.stats.requests(.embeddings) == 1)
        }
    }

    @Test("a large batch keeps count and order; concurrent calls do not mix their answers")
    func orderAndCountPreserved() async throws {
        try await Support.withFakeServer(.init(latencyMilliseconds: 5, jitterMilliseconds: 20)) { server, configuration in
            let provider = try OpenAIEmbeddingProvider(configuration: configuration)
            let batches = (0..<6).map { Support.texts(40, prefix: "batch \($0)") }
            let results = try await withThrowingTaskGroup(of: (Int, [[Float]]).self) { group in
                for (index, batch) in batches.enumerated() {
                    group.addTask { (index, try await provider.embed(batch)) }
                }
                return try await group.reduce(into: [Int: [[Float]]]()) { $0[$1.0] = $1.1 }
            }
            for (index, batch) in batches.enumerated() {
                let vectors = try #require(results[index])
                #expect(vectors.count == batch.count)
                #expect(zip(batch, vectors).allSatisfy { Support.isFakeVector($1, for: $0) })
            }
            #expect(server.stats.requests(.embeddings) == 6)
            #expect(server.stats.embeddedTexts == 240)
        }
    }

    @Test("dimensions and base64: sends `dimensions` when asked and decodes base64 vectors")
    func dimensionsAndBase64() async throws {
        try await Support.withFakeServer { _, base in
            var configuration = base
            configuration.dimensions = 64
            configuration.sendsDimensions = true
            configuration.encodingFormat = .base64
            let provider = try OpenAIEmbeddingProvider(configuration: configuration)
            let vectors = try await provider.embed(["short vectors please"])
            #expect(vectors[0].count == 64)
            #expect(Support.isFakeVector(vectors[0], for: "short vectors please", dimensions: 64))

            let discovered = try await OpenAIEmbeddingProvider.discoverDimensions(configuration: base)
            #expect(discovered == 384)
        }
    }

    @Test("vectors of the wrong length are a malformed response")
    func wrongDimensionsAreMalformed() async throws {
        try await Support.withFakeServer { _, base in
            var configuration = base
            configuration.dimensions = 128  // not sent, so the server answers 384
            let provider = try OpenAIEmbeddingProvider(configuration: configuration)
            let error = await Support.embeddingError { _ = try await provider.embed(["a text"]) }
            #expect(error?.kind == .malformedResponse)
            #expect(error?.message.contains("384 dimensions, expected 128") == true)
        }
    }

    @Test("a refused text (400) is `.rejected` with the server's message")
    func badRequestIsRejected() async throws {
        try await Support.withFakeServer(.init(failOnText: ["poison": 400])) { server, configuration in
            let provider = try OpenAIEmbeddingProvider(configuration: configuration)
            let error = await Support.embeddingError { _ = try await provider.embed(["fine", "a poison pill", "also fine"]) }
            let rejected = try #require(error)
            #expect(rejected.kind == .rejected)
            #expect(rejected.status == 400)
            #expect(rejected.isRetryable == false)
            #expect(rejected.message.contains("fail_on_text"))
            #expect(server.stats.requests(.embeddings) == 1)
        }
    }

    @Test("429 is `.rateLimited` with Retry-After; 500 and 503 are `.unavailable`")
    func statusClassification() async throws {
        try await Support.withFakeServer(.init(rate429: 1, retryAfterSeconds: 7)) { server, configuration in
            let provider = try OpenAIEmbeddingProvider(configuration: configuration)
            let limited = await Support.embeddingError { _ = try await provider.embed(["x"]) }
            #expect(limited?.kind == .rateLimited)
            #expect(limited?.status == 429)
            #expect(limited?.retryAfter == .seconds(7))

            try server.updateControls { $0.rate429 = 0; $0.rate500 = 1 }
            let failed = await Support.embeddingError { _ = try await provider.embed(["x"]) }
            #expect(failed?.kind == .unavailable)
            #expect(failed?.status == 500)

            try server.updateControls { $0.rate500 = 0; $0.rate503 = 1 }
            let overloaded = await Support.embeddingError { _ = try await provider.embed(["x"]) }
            #expect(overloaded?.kind == .unavailable)
            #expect(overloaded?.status == 503)
            #expect(overloaded?.retryAfter == .seconds(7))
        }
    }

    @Test("malformed bodies (cut JSON, missing `data`) are `.malformedResponse`")
    func malformedBodies() async throws {
        for mode in [FakeModelServer.MalformedMode.invalidJSON, .missingField] {
            try await Support.withFakeServer(.init(rateMalformed: 1, malformedMode: mode)) { _, configuration in
                let provider = try OpenAIEmbeddingProvider(configuration: configuration)
                let error = await Support.embeddingError { _ = try await provider.embed(["x", "y"]) }
                #expect(error?.kind == .malformedResponse, "mode \(mode)")
                #expect(error?.isRetryable == true)
            }
        }
    }

    @Test("a request hanging past the timeout is `.timeout`")
    func hangIsTimeout() async throws {
        try await Support.withFakeServer(.init(rateHang: 1, hangSeconds: 10)) { server, base in
            var configuration = base
            // Long enough for a busy server to have taken the request before the client gives up.
            configuration.timeout = .seconds(2)
            let provider = try OpenAIEmbeddingProvider(configuration: configuration)
            let start = ContinuousClock.now
            let error = await Support.embeddingError { _ = try await provider.embed(["slow"]) }
            let elapsed = ContinuousClock.now - start
            #expect(error?.kind == .timeout)
            #expect(elapsed >= .milliseconds(1900))
            #expect(elapsed < .seconds(9), "the hang lasts 10 s; the timeout must end the call first")
            #expect(server.stats.count(.hang) == 1)
        }
    }

    @Test("connection refused is `.connection`")
    func connectionRefused() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let provider = try OpenAIEmbeddingProvider(configuration: .init(
            baseURL: "http://127.0.0.1:\(refusing.port)", model: "m", dimensions: 8, timeout: .seconds(5)))
        let error = await Support.embeddingError { _ = try await provider.embed(["x"]) }
        #expect(error?.kind == .connection)
        #expect(error?.isRetryable == true)
    }

    @Test("a missing Unix socket is `.connection`")
    func missingUnixSocket() async throws {
        let provider = try OpenAIEmbeddingProvider(configuration: .init(
            baseURL: "http://localhost", model: "m", dimensions: 8, unixSocketPath: Support.socketPath()))
        let error = await Support.embeddingError { _ = try await provider.embed(["x"]) }
        #expect(error?.kind == .connection)
    }

    @Test("cancelling the caller is `.cancelled`, promptly")
    func cancellation() async throws {
        try await Support.withFakeServer(.init(rateHang: 1, hangSeconds: 10)) { server, configuration in
            let provider = try OpenAIEmbeddingProvider(configuration: configuration)
            let task = Task { await Support.embeddingError { _ = try await provider.embed(["x"]) } }
            await Support.eventually { server.stats.count(.hang) == 1 }
            let start = ContinuousClock.now
            task.cancel()
            let error = await task.value
            #expect(error?.kind == .cancelled)
            #expect(ContinuousClock.now - start < .seconds(9), "the hang lasts 10 s; cancellation must end the call first")
        }
    }

    @Test("empty calls make no request; oversized calls are refused without one")
    func emptyAndOversized() async throws {
        try await Support.withFakeServer { server, base in
            var configuration = base
            configuration.maxBatchSize = 2
            let provider = try OpenAIEmbeddingProvider(configuration: configuration)
            #expect(try await provider.embed([]).isEmpty)
            let error = await Support.embeddingError { _ = try await provider.embed(["a", "b", "c"]) }
            #expect(error?.kind == .rejected)
            #expect(server.stats.requests(.embeddings) == 0)
        }
    }

    @Test("URL rule: /v1/embeddings under the root, /embeddings under a root ending in /v1")
    func urlRule() {
        func url(_ base: String) -> String {
            OpenAIEmbeddingProvider.Configuration(baseURL: base, model: "m", dimensions: 1).embeddingsURL
        }
        #expect(url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1/embeddings")
        #expect(url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/v1/embeddings")
        #expect(url("http://127.0.0.1:11434/v1") == "http://127.0.0.1:11434/v1/embeddings")
        #expect(url("https://api.openai.com/v1/") == "https://api.openai.com/v1/embeddings")
        #expect(url("https://gateway.example/openai") == "https://gateway.example/openai/v1/embeddings")
    }

    @Test("invalid configurations are refused with every problem listed")
    func invalidConfiguration() {
        #expect(throws: OpenAIEmbeddingProvider.InvalidConfiguration.self) {
            _ = try OpenAIEmbeddingProvider(configuration: .init(baseURL: "", model: "", dimensions: 0))
        }
        let problems = OpenAIEmbeddingProvider.Configuration(baseURL: "ftp://x", model: "", dimensions: 0, maxBatchSize: 0).problems
        #expect(problems.count == 4)
    }

    @Test("the API key is sent as a bearer token, with the JSON body and no Expect header")
    func requestShape() async throws {
        try await RecordingEmbeddingsServer.withServer(dimensions: 3) { server in
            let provider = try OpenAIEmbeddingProvider(configuration: .init(
                baseURL: server.baseURL, model: "m", dimensions: 3, sendsDimensions: true, apiKey: "sk-test",
                extraHeaders: ["OpenAI-Organization": "org-1"]))
            let vectors = try await provider.embed(["hello \"world\"", "second"])
            #expect(vectors == [[1, 0, 0], [1, 0, 0]])
            let seen = try #require(server.lastRequest)
            #expect(seen.headers["authorization"] == "Bearer sk-test")
            #expect(seen.headers["openai-organization"] == "org-1")
            #expect(seen.headers["content-type"] == "application/json")
            #expect(seen.headers["expect"] == nil)
            let body = try #require(try JSONSerialization.jsonObject(with: Data(seen.body)) as? [String: Any])
            #expect(body["model"] as? String == "m")
            #expect(body["input"] as? [String] == ["hello \"world\"", "second"])
            #expect(body["dimensions"] as? Int == 3)
            #expect(body["encoding_format"] == nil)
        }
    }

    @Test("without an API key no Authorization header is sent")
    func noKeyNoAuthorization() async throws {
        try await RecordingEmbeddingsServer.withServer(dimensions: 2) { server in
            let provider = try OpenAIEmbeddingProvider(configuration: .init(baseURL: server.baseURL + "/v1/", model: "m", dimensions: 2))
            _ = try await provider.embed(["x"])
            let seen = try #require(server.lastRequest)
            #expect(seen.headers["authorization"] == nil)
            let body = try #require(try JSONSerialization.jsonObject(with: Data(seen.body)) as? [String: Any])
            #expect(body["dimensions"] == nil)
        }
    }

    @Test("unit tests of the answer: order by index, duplicate index, normalisation, zero vectors")
    func answerDecoding() throws {
        func response(_ json: String) -> HTTPResponse { HTTPResponse(status: 200, headers: [:], body: Array(json.utf8)) }
        let shuffled = response(#"{"data":[{"index":1,"embedding":[0,2]},{"index":0,"embedding":[3,4]}]}"#)
        let vectors = try OpenAIEmbeddingProvider.vectors(from: shuffled, count: 2, dimensions: 2)
        #expect(vectors == [[0.6, 0.8], [0, 1]])

        let duplicate = response(#"{"data":[{"index":0,"embedding":[1,0]},{"index":0,"embedding":[0,1]}]}"#)
        #expect(throws: ModelCallError.self) { try OpenAIEmbeddingProvider.vectors(from: duplicate, count: 2, dimensions: 2) }
        let zero = response(#"{"data":[{"index":0,"embedding":[0,0]}]}"#)
        #expect(throws: ModelCallError.self) { try OpenAIEmbeddingProvider.vectors(from: zero, count: 1, dimensions: 2) }
        let tooFew = response(#"{"data":[{"index":0,"embedding":[1,0]}]}"#)
        #expect(throws: ModelCallError.self) { try OpenAIEmbeddingProvider.vectors(from: tooFew, count: 2, dimensions: 2) }
    }

    @Test("error bodies: the provider's message is kept, in the shapes servers use")
    func errorMessages() {
        func error(_ status: Int, _ body: String, retryAfter: String? = nil) -> ModelCallError {
            var headers: HTTPHeaders = [:]
            if let retryAfter { headers["Retry-After"] = retryAfter }
            return ModelCallError(response: HTTPResponse(status: status, headers: headers, body: Array(body.utf8)))
        }
        #expect(error(400, #"{"error":{"message":"too long","type":"invalid_request_error"}}"#).message == "too long")
        #expect(error(400, #"{"error":"model not loaded"}"#).message == "model not loaded")
        #expect(error(422, #"{"message":"bad input"}"#).kind == .rejected)
        #expect(error(401, "").message == "HTTP 401")
        #expect(error(429, "slow down", retryAfter: "3").retryAfter == .seconds(3))
        #expect(error(408, "").kind == .timeout)
        #expect(error(502, "<html>bad gateway</html>").kind == .unavailable)
        #expect(error(400, "x", retryAfter: "3").retryAfter == nil)
    }
}
