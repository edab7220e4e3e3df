import ArgumentParser
import FakeModelServer
import Foundation
import Logging
import ServiceLifecycle

/// `fake-model-server`: the OpenAI-compatible fake model server as a process, for benchmarks, `make dev` and
/// tests of other executables. Runs until SIGTERM or SIGINT.
@main
struct FakeModelServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-model-server",
        abstract: "A real HTTP server speaking the OpenAI-compatible API with deterministic answers and injectable faults.",
        discussion: """
        Serves POST /v1/embeddings, POST /v1/chat/completions (stream: true for SSE), GET /v1/models;
        GET|POST /control (JSON fault controls, changed at run time), POST /control/reset;
        GET /stats, POST /stats/reset; GET /healthz.
        Prints "listening on http://HOST:PORT" (and "listening on unix:PATH") once bound.
        Without --port and --unix-socket it listens on 127.0.0.1:8089; with only --unix-socket, on the socket only.
        """
    )

    @Option(help: "TCP address to bind.") var host = "127.0.0.1"
    @Option(help: "TCP port (0 picks a free one). Default 8089, or none when only --unix-socket is given.") var port: Int?
    @Option(help: "Also (or only) serve on this Unix domain socket path.") var unixSocket: String?

    @Option(name: .customLong("embedding-model"), help: "An embedding model name to list (repeatable).")
    var embeddingModels: [String] = []
    @Option(name: .customLong("chat-model"), help: "A chat model name to list (repeatable).")
    var chatModels: [String] = []
    @Flag(help: "Answer 404 model_not_found for models not listed.") var rejectUnknownModels = false
    @Option(help: "Embedding dimensions when a request gives none.") var dimensions = FakeEmbedding.defaultDimensions
    @Flag(help: "Do not keep per-text call counts (for long benchmarks).") var noTextCounts = false

    @Option(help: "Seed of the fault and jitter draws.") var seed: UInt64 = 0x5EED
    @Option(help: "Fixed latency before each answer, in ms.") var latencyMs = 0.0
    @Option(help: "Uniform extra latency in [0, N) ms.") var jitterMs = 0.0
    @Option(name: .customLong("rate-429"), help: "Fraction of requests answered 429.") var rate429 = 0.0
    @Option(help: "Retry-After seconds sent with 429/503 (may be 0).") var retryAfter = 1
    @Flag(help: "Send 429/503 without a Retry-After header.") var noRetryAfter = false
    @Option(name: .customLong("rate-500"), help: "Fraction answered 500.") var rate500 = 0.0
    @Option(name: .customLong("rate-503"), help: "Fraction answered 503.") var rate503 = 0.0
    @Option(help: "Fraction answered 200 with a malformed body.") var rateMalformed = 0.0
    @Option(help: "invalid_json, missing_field or mixed.") var malformedMode = "mixed"
    @Option(help: "Fraction held for --hang-seconds before answering.") var rateHang = 0.0
    @Option(help: "How long a hung request is held, in seconds.") var hangSeconds = 30.0
    @Option(name: .customLong("fail-on-text"), help: "SUBSTRING=STATUS: inputs containing SUBSTRING get STATUS (repeatable).")
    var failOnText: [String] = []
    @Option(help: "Delay between streamed chat chunks, in ms.") var tokenDelayMs: Double?
    @Option(help: "Streaming speed (sets the delay to 1000/N ms).") var tokensPerSecond: Double?
    @Option(name: .customLong("fault-endpoint"), help: "embeddings or chat_completions: where faults apply (repeatable; default both).")
    var faultEndpoints: [String] = []
    @Option(help: "Chat answer template; {question} is the last user message.") var answerTemplate = FakeModelServer.Controls.defaultAnswerTemplate
    @Option(name: .customLong("canned-answer"), help: "SUBSTRING=ANSWER: answer for questions containing SUBSTRING (repeatable).")
    var cannedAnswers: [String] = []
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).") var logLevel = "info"

    func validate() throws {
        if tokenDelayMs != nil && tokensPerSecond != nil {
            throw ValidationError("give --token-delay-ms or --tokens-per-second, not both")
        }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("unknown --log-level \(logLevel)")
        }
        _ = try makeConfiguration()
    }

    func run() async throws {
        var logger = Logger(label: "fake-model-server")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let server = FakeModelServer(configuration: try makeConfiguration(), logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            tasks.addTask {
                let endpoints = try await server.listening()
                if let baseURL = endpoints.baseURL { print("listening on \(baseURL)") }
                if let path = endpoints.unixSocketPath { print("listening on unix:\(path)") }
                fflush(nil)
            }
            try await tasks.waitForAll()
        }
    }

    private func makeConfiguration() throws -> FakeModelServer.Configuration {
        var controls = FakeModelServer.Controls(
            latencyMilliseconds: latencyMs,
            jitterMilliseconds: jitterMs,
            rate429: rate429,
            retryAfterSeconds: noRetryAfter ? nil : retryAfter,
            rate500: rate500,
            rate503: rate503,
            rateMalformed: rateMalformed,
            rateHang: rateHang,
            hangSeconds: hangSeconds,
            tokenDelayMilliseconds: tokenDelayMs ?? 0,
            answerTemplate: answerTemplate,
            seed: seed
        )
        if let tokensPerSecond { controls.tokensPerSecond = tokensPerSecond }
        guard let mode = FakeModelServer.MalformedMode(rawValue: malformedMode) else {
            throw ValidationError("--malformed-mode must be invalid_json, missing_field or mixed, got \(malformedMode)")
        }
        controls.malformedMode = mode
        for entry in failOnText {
            let (text, value) = try Self.split(entry, option: "--fail-on-text")
            guard let status = Int(value) else { throw ValidationError("--fail-on-text \(entry): the status must be a number") }
            controls.failOnText[text] = status
        }
        for entry in cannedAnswers {
            let (text, answer) = try Self.split(entry, option: "--canned-answer")
            controls.cannedAnswers[text] = answer
        }
        if !faultEndpoints.isEmpty {
            controls.faultEndpoints = Set(
                try faultEndpoints.map { name in
                    guard let endpoint = FakeModelServer.Endpoint(rawValue: name), endpoint != .models else {
                        throw ValidationError("--fault-endpoint takes embeddings or chat_completions, got \(name)")
                    }
                    return endpoint
                }
            )
        }
        let configuration = FakeModelServer.Configuration(
            host: host,
            port: port ?? (unixSocket == nil ? 8089 : nil),
            unixSocketPath: unixSocket,
            embeddingModels: embeddingModels.isEmpty ? ["fake-embedding"] : embeddingModels,
            chatModels: chatModels.isEmpty ? ["fake-chat"] : chatModels,
            rejectUnknownModels: rejectUnknownModels,
            defaultDimensions: dimensions,
            recordsTexts: !noTextCounts,
            controls: controls
        )
        let problems = configuration.problems
        guard problems.isEmpty else { throw ValidationError(problems.joined(separator: "\n")) }
        return configuration
    }

    /// `KEY=VALUE` split at the last `=`, so keys may contain `=`.
    private static func split(_ entry: String, option: String) throws -> (String, String) {
        guard let separator = entry.lastIndex(of: "="), separator != entry.startIndex else {
            throw ValidationError("\(option) takes KEY=VALUE, got \(entry)")
        }
        return (String(entry[..<separator]), String(entry[entry.index(after: separator)...]))
    }
}
