import FakeModelServer
import Foundation
import Testing

/// Runs a fake model server on a free TCP port of 127.0.0.1 for the duration of `body`.
func withServer<Result>(
    _ configuration: FakeModelServer.Configuration = FakeModelServer.Configuration(),
    _ body: (FakeModelServer, HTTPTarget) async throws -> Result
) async throws -> Result {
    try await FakeModelServer.withRunningServer(configuration: configuration) { server, endpoints in
        let port = try #require(endpoints.port)
        return try await body(server, .tcp(port: port))
    }
}

/// `POST path` with a JSON body.
func post(_ target: HTTPTarget, _ path: String, _ json: String, timeout: Duration = .seconds(15)) async throws -> HTTPResult {
    try await RawHTTP.exchange("POST", path, json: json, to: target, timeout: timeout)
}

/// `GET path`.
func get(_ target: HTTPTarget, _ path: String) async throws -> HTTPResult {
    try await RawHTTP.exchange("GET", path, to: target)
}

/// A JSON string literal for `text`.
func quoted(_ text: String) -> String {
    String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
}

/// The embeddings response as the OpenAI client libraries read it.
struct EmbeddingsReply: Decodable {
    struct Item: Decodable {
        var object: String
        var index: Int
        var embedding: [Float]
    }

    struct Usage: Decodable {
        var promptTokens: Int
        var totalTokens: Int
        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case totalTokens = "total_tokens"
        }
    }

    var object: String
    var data: [Item]
    var model: String
    var usage: Usage

    init(_ result: HTTPResult) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(result.body))
    }
}

/// The chat completion response (non-streaming).
struct ChatReply: Decodable {
    struct Choice: Decodable {
        struct Message: Decodable {
            var role: String
            var content: String
        }

        var index: Int
        var message: Message
        var finishReason: String
        enum CodingKeys: String, CodingKey {
            case index, message
            case finishReason = "finish_reason"
        }
    }

    struct Usage: Decodable {
        var promptTokens: Int
        var completionTokens: Int
        var totalTokens: Int
        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
        }
    }

    var id: String
    var object: String
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage

    init(_ result: HTTPResult) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(result.body))
    }
}

/// The OpenAI error body.
struct ErrorReply: Decodable {
    struct Detail: Decodable {
        var message: String
        var type: String
        var param: String?
        var code: String?
    }

    var error: Detail

    init(_ result: HTTPResult) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(result.body))
    }
}

/// An embeddings request body for `texts` (a plain string when there is one text and `batch` is false).
func embeddingsBody(_ texts: [String], model: String = "fake-embedding", batch: Bool = true, extra: String = "") -> String {
    let input = !batch && texts.count == 1 ? quoted(texts[0]) : "[" + texts.map(quoted).joined(separator: ",") + "]"
    return "{\"model\":\(quoted(model)),\"input\":\(input)\(extra)}"
}

/// A chat request body with one system and one user message.
func chatBody(_ question: String, system: String? = nil, model: String = "fake-chat", extra: String = "") -> String {
    var messages: [String] = []
    if let system { messages.append("{\"role\":\"system\",\"content\":\(quoted(system))}") }
    messages.append("{\"role\":\"user\",\"content\":\(quoted(question))}")
    return "{\"model\":\(quoted(model)),\"messages\":[\(messages.joined(separator: ","))]\(extra)}"
}

/// Cosine similarity of two unit vectors.
func dot(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
}
