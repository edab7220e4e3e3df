import Foundation

/// Builds one ``ChatCompletion`` from the events of an OpenAI-compatible streamed answer — the protocol
/// rules, apart from the I/O (``OpenAIChatProvider`` feeds it what ``ServerSentEventParser`` splits).
///
/// - `data: [DONE]` ends the answer (``isDone``); events after it are not read.
/// - Every other event must be a JSON chunk with `choices` (content and finish reason of choice 0),
///   `usage` (the provider's token counts, usually in a last chunk with empty `choices`), or both;
///   a chunk that is not JSON, or has neither, is `.malformedResponse`.
/// - A chunk with `error` (a provider that fails midway) is `.unavailable` with its message.
/// - Usage missing from the stream is estimated with ``ClientRateLimiter/estimatedTokens(for:)-(String)``.
///
/// A value type used by one task.
struct OpenAIChatStream {
    /// The model asked for, used when the chunks name none.
    let requestedModel: String
    /// The estimated prompt tokens, used when the provider reports none.
    let estimatedPromptTokens: Int
    /// The text so far.
    private(set) var text = ""
    /// Whether `[DONE]` has been read.
    private(set) var isDone = false
    private var model: String?
    private var finishReason: String?
    private var promptTokens: Int?
    private var completionTokens: Int?
    private let decoder = JSONDecoder()

    init(requestedModel: String, estimatedPromptTokens: Int) {
        self.requestedModel = requestedModel
        self.estimatedPromptTokens = estimatedPromptTokens
    }

    /// Reads one event and returns the new text it carries (`nil` when none).
    mutating func consume(_ event: ServerSentEventParser.Event) throws(ModelCallError) -> String? {
        guard !isDone else { return nil }
        let data = event.data.trimmingCharacters(in: .whitespaces)
        if data == "[DONE]" {
            isDone = true
            return nil
        }
        let chunk: OpenAIChatWire.Chunk
        do {
            chunk = try decoder.decode(OpenAIChatWire.Chunk.self, from: Data(data.utf8))
        } catch {
            throw ModelCallError(kind: .malformedResponse, message: "a streamed chunk is not valid JSON: \(Self.excerpt(data))")
        }
        if let error = chunk.error {
            throw ModelCallError(kind: .unavailable, message: "the provider failed while streaming: \(error.message)")
        }
        if event.name == "error" {
            throw ModelCallError(kind: .unavailable, message: "the provider sent an error event: \(Self.excerpt(data))")
        }
        guard chunk.choices != nil || chunk.usage != nil else {
            throw ModelCallError(kind: .malformedResponse, message: "a streamed chunk has neither choices nor usage: \(Self.excerpt(data))")
        }
        if model == nil, let named = chunk.model, !named.isEmpty { model = named }
        if let usage = chunk.usage {
            promptTokens = usage.promptTokens ?? promptTokens
            completionTokens = usage.completionTokens ?? completionTokens
        }
        guard let choice = chunk.choices?.first(where: { ($0.index ?? 0) == 0 }) else { return nil }
        if let reason = choice.finishReason { finishReason = reason }
        guard let content = choice.delta?.content, !content.isEmpty else { return nil }
        text += content
        return content
    }

    /// The completion read so far, with the provider's token counts or estimates.
    var completion: ChatCompletion {
        ChatCompletion(
            text: text,
            model: model ?? requestedModel,
            promptTokens: promptTokens ?? estimatedPromptTokens,
            completionTokens: completionTokens ?? (text.isEmpty ? 0 : ClientRateLimiter.estimatedTokens(for: text)),
            finishReason: finishReason)
    }

    private static func excerpt(_ data: String) -> String {
        data.count <= 200 ? data : String(data.prefix(200)) + "…"
    }
}
