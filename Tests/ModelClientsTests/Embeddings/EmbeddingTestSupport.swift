import FakeModelServer
import Foundation
import Hummingbird
import Logging
import MiniLM
import ModelClients
import Synchronization
import Testing

/// Shared helpers for the embedding tests.
enum EmbeddingTestSupport {
    /// The model name the fake server is asked for.
    static let model = "fake-embedding"
    static let dimensions = FakeEmbedding.defaultDimensions

    /// A logger for the code under test that only reports errors (circuit changes are expected here).
    static let quietLogger: Logger = {
        var logger = Logger(label: "ModelClientsTests.embeddings")
        logger.logLevel = .error
        return logger
    }()

    /// A short Unix socket path (sun_path holds 108 bytes).
    static func socketPath() -> String {
        "/tmp/mc-emb-\(UUID().uuidString.prefix(8)).sock"
    }

    /// Runs a fake model server on a free TCP port of 127.0.0.1 with `controls`, and gives `body` a
    /// provider configuration pointing at it (timeout 10 s).
    static func withFakeServer<Result>(
        _ controls: FakeModelServer.Controls = FakeModelServer.Controls(),
        _ body: (FakeModelServer, OpenAIEmbeddingProvider.Configuration) async throws -> Result
    ) async throws -> Result {
        try await FakeModelServer.withRunningServer(configuration: .init(controls: controls)) { server, endpoints in
            let baseURL = try #require(endpoints.baseURL)
            let configuration = OpenAIEmbeddingProvider.Configuration(
                baseURL: baseURL, model: model, dimensions: dimensions, timeout: .seconds(10))
            return try await body(server, configuration)
        }
    }

    /// A retry policy with short, seeded backoff so fault tests run fast.
    static func quickRetries(_ maxAttempts: Int = 6, base: Duration = .milliseconds(5), cap: Duration = .milliseconds(50)) -> RetryPolicy {
        RetryPolicy(maxAttempts: maxAttempts, baseDelay: base, maxDelay: cap, jitter: .seeded(42))
    }

    /// Distinct texts `"<prefix> text number i about topic i % 7"`.
    static func texts(_ count: Int, prefix: String = "sample") -> [String] {
        (0..<count).map { "\(prefix) text number \($0) about topic \($0 % 7)" }
    }

    /// Whether `vector` is the fake server's vector for `text` (up to float rounding of the renormalisation).
    static func isFakeVector(_ vector: [Float], for text: String, dimensions: Int = dimensions) -> Bool {
        let expected = FakeEmbedding.vector(for: text, model: model, dimensions: dimensions)
        return maxAbsDifference(vector, expected) < 1e-5
    }

    static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    static func norm(_ vector: [Float]) -> Double {
        vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    /// Polls `condition` every 5 ms until it holds or `timeout` passes; returns whether it held.
    @discardableResult
    static func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }

    /// Runs `body` and returns the `ModelCallError` it threw, or `nil` when it did not throw (another
    /// error is recorded as a test issue).
    static func embeddingError(
        sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
    ) async -> ModelCallError? {
        do {
            try await body()
            return nil
        } catch let error as ModelCallError {
            return error
        } catch {
            Issue.record("expected an ModelCallError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }
}

/// The MiniLM model, located like Tests/MiniLMTests/MiniLMTestSupport.swift does: model tests run when
/// the model is present and always in CI (where a missing model fails them rather than skipping).
enum MiniLMModel {
    /// `<repo>`, from this file's location (`<repo>/Tests/ModelClientsTests/Embeddings/…`).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// `$RAG_MINILM_MODEL_DIR`, else `<repo>/.data/models/all-MiniLM-L6-v2`.
    static let directory: String = {
        if let override = environment[MiniLMEmbedder.modelDirectoryEnvironmentKey], !override.isEmpty { return override }
        return repositoryRoot.appendingPathComponent(MiniLMEmbedder.defaultModelDirectory).path
    }()

    static let available = FileManager.default.fileExists(atPath: directory + "/model.safetensors")
    static let isCI = !(environment["CI"] ?? "").isEmpty
    static let runTests = available || isCI
    static let skipMessage: Comment = "MiniLM model not found (run `make deps` or set RAG_MINILM_MODEL_DIR); skipped outside CI"

    /// One embedder shared by the tests (it is thread-safe), loaded on first use.
    static let embedder: Result<MiniLMEmbedder, any Error> = Result { try MiniLMEmbedder(modelDirectory: directory, threads: 2) }
}

/// An in-process provider for unit tests of the resilience wrapper: answers from a script of
/// failures (then successes), optionally sleeping, and records how many calls ran at once.
final class ScriptedProvider: EmbeddingProvider {
    let model = "scripted"
    let dimensions = 4
    let maxBatchSize = 16
    var providerName: String { "scripted" }

    private struct State {
        var script: [ModelCallError?]
        var calls = 0
        var inFlight = 0
        var maxInFlight = 0
    }

    private let state: Mutex<State>
    private let latency: Duration

    /// `script[i]` is the outcome of call `i` (nil: success); calls past the script succeed.
    init(script: [ModelCallError?] = [], latency: Duration = .zero) {
        self.state = Mutex(State(script: script))
        self.latency = latency
    }

    var calls: Int { state.withLock { $0.calls } }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }

    func embed(_ texts: [String]) async throws(ModelCallError) -> [[Float]] {
        let outcome: ModelCallError? = state.withLock { state in
            defer { state.calls += 1 }
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
            return state.calls < state.script.count ? state.script[state.calls] : nil
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        if latency > .zero {
            do {
                try await Task.sleep(for: latency)
            } catch {
                throw ModelCallError(kind: .cancelled, message: "cancelled")
            }
        }
        if let outcome { throw outcome }
        return texts.map { _ in [1, 0, 0, 0] }
    }
}

/// A Hummingbird server with one route, `POST /v1/embeddings`, that records the request it got and
/// answers a valid embeddings list of unit vectors `[1, 0, …]` — to check what the provider sends.
struct RecordingEmbeddingsServer {
    struct Seen: Sendable {
        var headers: [String: String]
        var body: [UInt8]
    }

    let baseURL: String
    private let recorder: Recorder

    /// The last request received.
    var lastRequest: Seen? { recorder.seen.withLock { $0 } }

    static func withServer<T>(dimensions: Int, _ body: (RecordingEmbeddingsServer) async throws -> T) async throws -> T {
        let recorder = Recorder()
        let router = Router()
        router.post("v1/embeddings") { request, _ -> Response in
            let received = try await request.body.collect(upTo: 16 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let bytes = Array(received.readableBytesView)
            recorder.seen.withLock { $0 = Seen(headers: headers, body: bytes) }
            let count = ((try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])?["input"] as? [Any])?.count ?? 1
            let vector = "[" + (0..<dimensions).map { $0 == 0 ? "1" : "0" }.joined(separator: ",") + "]"
            let items = (0..<count).map { "{\"index\":\($0),\"embedding\":\(vector)}" }.joined(separator: ",")
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"data\":[\(items)]}")))
        }
        var logger = Logger(label: "ModelClientsTests.recording-server")
        logger.logLevel = .critical  // stopping by cancellation logs an error that means nothing here
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portSink.yield(channel.localAddress?.port ?? 0)
                portSink.finish()
            },
            logger: logger
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            defer { group.cancelAll() }
            return try await body(RecordingEmbeddingsServer(baseURL: "http://127.0.0.1:\(port)", recorder: recorder))
        }
    }

    private init(baseURL: String, recorder: Recorder) {
        self.baseURL = baseURL
        self.recorder = recorder
    }

    private final class Recorder: Sendable {
        let seen = Mutex<Seen?>(nil)
    }
}

/// A value behind a lock, in a class so closures and tasks can share it.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    var value: Value { mutex.withLock { $0 } }

    @discardableResult
    func withLock<Result: Sendable>(_ body: (inout sending Value) -> sending Result) -> sending Result {
        mutex.withLock { body(&$0) }
    }
}
