/// Generates text from chat messages: any OpenAI-compatible `/v1/chat/completions` API over HTTP, or the
/// same API over a Unix socket (a sidecar). rag-chain depends on this protocol only.
public protocol ChatProvider: Sendable {
    /// The model name sent to the provider and recorded with every answer (`model` of a ResultEvent).
    var model: String { get }
    /// A short name of the kind of provider, for metrics and logs: `openai`, … (the `provider` dimension
    /// of the `rag_chat_*` metrics).
    var providerName: String { get }

    /// Generates one completion, streamed: `onDelta` receives each piece of text as it arrives, in order,
    /// and the pieces concatenate to the returned completion's `text`. Returns once the completion is whole.
    /// Throws `ModelCallError` (HTTP statuses, transport failures and malformed responses classified
    /// for retry decisions); cancelling the calling task stops the call and throws `.cancelled`.
    ///
    /// `onDelta` is called from the calling task and awaited before more of the answer is read (a slow
    /// consumer slows the call down, it does not buffer without bound); it is never called after
    /// `complete` has returned or thrown. A call that throws may have passed some deltas on first.
    /// A retrying provider (``ResilientChatProvider``) streams one attempt only; see its documentation.
    func complete(_ request: ChatRequest, onDelta: @escaping @Sendable (String) async -> Void) async throws(ModelCallError) -> ChatCompletion
}

/// One chat completion request.
public struct ChatRequest: Sendable, Equatable {
    /// The conversation: usually one system message (instructions) and one user message (context and question).
    public var messages: [ChatMessage]
    /// The most tokens to generate; nil leaves it to the provider.
    public var maxTokens: Int?
    /// Sampling temperature; nil leaves it to the provider. Answers use 0 for repeatable output.
    public var temperature: Double?

    public init(messages: [ChatMessage], maxTokens: Int? = nil, temperature: Double? = nil) {
        self.messages = messages
        self.maxTokens = maxTokens
        self.temperature = temperature
    }
}

/// One message of a chat.
public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable, Equatable {
        case system, user, assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}

/// A whole completion.
public struct ChatCompletion: Sendable, Equatable {
    /// The generated text (all deltas joined).
    public var text: String
    /// The model that generated it, as the provider named it.
    public var model: String
    /// Tokens in the prompt and in the completion, as the provider reported them (estimated when it did not).
    public var promptTokens: Int
    public var completionTokens: Int
    /// Why generation stopped (`stop`, `length`, …), when the provider said.
    public var finishReason: String?

    public init(text: String, model: String, promptTokens: Int, completionTokens: Int, finishReason: String? = nil) {
        self.text = text
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.finishReason = finishReason
    }
}
