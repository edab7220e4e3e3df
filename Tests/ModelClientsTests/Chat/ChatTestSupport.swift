import FakeModelServer
import Foundation
import Hummingbird
import Logging
import ModelClients
import Synchronization
import Testing

/// Shared helpers for the chat tests.
enum ChatTestSupport {
    /// The model name the fake server is asked for.
    static let model = "fake-chat"

    /// A logger for the code under test that only reports errors (circuit changes are expected here).
    static let quietLogger: Logger = {
        var logger = Logger(label: "ModelClientsTests.chat")
        logger.logLevel = .error
        return logger
    }()

    /// A short Unix socket path (sun_path holds 108 bytes).
    static func socketPath() -> String {
        "/tmp/mc-chat-\(UUID().uuidString.prefix(8)).sock"
    }

    /// Runs a fake model server on a free TCP port of 127.0.0.1 with `controls`, and gives `body` a
    /// provider configuration pointing at it (timeout 10 s).
    static func withFakeServer<Result>(
        _ controls: FakeModelServer.Controls = FakeModelServer.Controls(),
        _ body: (FakeModelServer, OpenAIChatProvider.Configuration) async throws -> Result
    ) async throws -> Result {
        try await FakeModelServer.withRunningServer(configuration: .init(controls: controls)) { server, endpoints in
            let baseURL = try #require(endpoints.baseURL)
            return try await body(server, OpenAIChatProvider.Configuration(baseURL: baseURL, model: model, timeout: .seconds(10)))
        }
    }

    /// A system message and a user message holding `question`.
    static func request(_ question: String, maxTokens: Int? = nil) -> ChatRequest {
        ChatRequest(
            messages: [ChatMessage(role: .system, content: "Answer from the context."), ChatMessage(role: .user, content: question)],
            maxTokens: maxTokens, temperature: 0)
    }

    /// The fake server's answer to `question` with the default template.
    static func fakeAnswer(to question: String) -> String {
        FakeModelServer.Controls.defaultAnswerTemplate.replacing("{question}", with: question)
    }

    /// Words in `text`: the fake server's token count, and the number of pieces it streams.
    static func words(_ text: String) -> Int {
        text.split(whereSeparator: \.isWhitespace).count
    }

    /// Runs `body` and returns the `ModelCallError` it threw, or `nil` when it did not throw.
    static func chatError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async -> ModelCallError? {
        await EmbeddingTestSupport.embeddingError(sourceLocation: sourceLocation, body)
    }
}

/// Collects the deltas a provider passes to `onDelta`, with what `probe` said when each arrived.
final class DeltaRecorder<Probe: Sendable>: Sendable {
    struct Delta: Sendable {
        var text: String
        var probe: Probe
    }

    private let deltas = Mutex<[Delta]>([])
    private let probe: @Sendable () -> Probe

    init(probe: @escaping @Sendable () -> Probe) {
        self.probe = probe
    }

    /// The closure to pass as `onDelta`.
    var onDelta: @Sendable (String) async -> Void {
        { text in
            let probed = self.probe()
            self.deltas.withLock { $0.append(Delta(text: text, probe: probed)) }
        }
    }

    var all: [Delta] { deltas.withLock { $0 } }
    var texts: [String] { all.map(\.text) }
    var joined: String { texts.joined() }
    var count: Int { deltas.withLock { $0.count } }
}

extension DeltaRecorder where Probe == Void {
    convenience init() {
        self.init(probe: {})
    }
}

/// A Hummingbird server with one route, `POST /v1/chat/completions`, that records the request it got
/// and answers `200 text/event-stream` with the given byte pieces, flushed one at a time with a short
/// pause between them — to check what the provider sends and how it reads streams the fake model
/// server does not produce (split events, CRLF, comments, a stream cut short).
struct ScriptedStreamServer {
    struct Seen: Sendable {
        var headers: [String: String]
        var body: [UInt8]
    }

    let baseURL: String
    private let recorder: Recorder

    /// The last request received.
    var lastRequest: Seen? { recorder.seen.withLock { $0 } }

    static func withServer<T>(pieces: [[UInt8]], _ body: (ScriptedStreamServer) async throws -> T) async throws -> T {
        let recorder = Recorder()
        let router = Router()
        router.post("v1/chat/completions") { request, _ -> Response in
            let received = try await request.body.collect(upTo: 16 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            recorder.seen.withLock { $0 = Seen(headers: headers, body: Array(received.readableBytesView)) }
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream"],
                body: ResponseBody { writer in
                    for piece in pieces {
                        try await writer.write(ByteBuffer(bytes: piece))
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    try await writer.finish(nil)
                })
        }
        var logger = Logger(label: "ModelClientsTests.scripted-stream-server")
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
            return try await body(ScriptedStreamServer(baseURL: "http://127.0.0.1:\(port)", recorder: recorder))
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

/// An in-process chat provider for unit tests of the resilience wrapper: answers `text` in one delta
/// per word after `latency`, and records how many calls ran at once.
final class ScriptedChatProvider: ChatProvider {
    let model = "scripted-chat"
    var providerName: String { "scripted" }

    private struct State {
        var calls = 0
        var inFlight = 0
        var maxInFlight = 0
    }

    private let state = Mutex(State())
    private let text: String
    private let latency: Duration

    init(text: String = "one two three", latency: Duration = .zero) {
        self.text = text
        self.latency = latency
    }

    var calls: Int { state.withLock { $0.calls } }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }

    func complete(_ request: ChatRequest, onDelta: @escaping @Sendable (String) async -> Void) async throws(ModelCallError) -> ChatCompletion {
        state.withLock { state in
            state.calls += 1
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        if latency > .zero {
            do {
                try await Task.sleep(for: latency)
            } catch {
                throw ModelCallError(kind: .cancelled, message: "cancelled")
            }
        }
        let words = text.split(separator: " ")
        for (index, word) in words.enumerated() { await onDelta(index == 0 ? String(word) : " " + word) }
        return ChatCompletion(text: text, model: model, promptTokens: 7, completionTokens: words.count, finishReason: "stop")
    }
}
